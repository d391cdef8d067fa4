"""Catalog, submissions, conflicts and value history.

Revision ID: 0001
Revises: (none)
"""

from alembic import op
import sqlalchemy as sa

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('org_unit',
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('parent_code', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['parent_code'], ['org_unit.code'], ),
    sa.PrimaryKeyConstraint('code')
    )
    op.create_table('unit',
    sa.Column('unit', sa.String(length=16), nullable=False),
    sa.Column('family', sa.String(length=32), nullable=False),
    sa.Column('factor', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('unit')
    )
    op.create_table('indicator',
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('name_en', sa.String(length=128), nullable=False),
    sa.Column('unit', sa.String(length=16), nullable=False),
    sa.Column('measure', sa.String(length=8), nullable=False),
    sa.Column('owner_kind', sa.String(length=32), nullable=False),
    sa.Column('parent_code', sa.String(length=64), nullable=True),
    sa.Column('allow_negative', sa.Boolean(), nullable=False),
    sa.Column('decimals', sa.Integer(), nullable=False),
    sa.Column('aggregation', sa.String(length=16), nullable=False),
    sa.Column('headline', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['parent_code'], ['indicator.code'], ),
    sa.ForeignKeyConstraint(['unit'], ['unit.unit'], ),
    sa.PrimaryKeyConstraint('code')
    )
    op.create_table('reporter',
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('township_code', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.ForeignKeyConstraint(['township_code'], ['org_unit.code'], ),
    sa.PrimaryKeyConstraint('code')
    )
    op.create_table('target',
    sa.Column('township_code', sa.String(length=64), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('indicator_code', sa.String(length=64), nullable=False),
    sa.Column('value', sa.Float(), nullable=False),
    sa.ForeignKeyConstraint(['indicator_code'], ['indicator.code'], ),
    sa.ForeignKeyConstraint(['township_code'], ['org_unit.code'], ),
    sa.PrimaryKeyConstraint('township_code', 'year', 'indicator_code')
    )
    op.create_table('inbox_file',
    sa.Column('path', sa.String(length=1024), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('mtime_ns', sa.BigInteger(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('first_seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('path')
    )
    with op.batch_alter_table('inbox_file', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_inbox_file_sha256'), ['sha256'], unique=False)

    op.create_table('submission',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('inbox_folder', sa.String(length=256), nullable=False),
    sa.Column('reporter_code', sa.String(length=64), nullable=True),
    sa.Column('township_code', sa.String(length=64), nullable=True),
    sa.Column('period', sa.String(length=7), nullable=True),
    sa.Column('file_name', sa.String(length=512), nullable=False),
    sa.Column('archive_path', sa.String(length=1024), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('processed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=32), nullable=False),
    sa.Column('on_time', sa.Boolean(), nullable=True),
    sa.Column('imported', sa.Integer(), nullable=False),
    sa.Column('updated', sa.Integer(), nullable=False),
    sa.Column('unchanged', sa.Integer(), nullable=False),
    sa.Column('rejected', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['reporter_code'], ['reporter.code'], ),
    sa.ForeignKeyConstraint(['township_code'], ['org_unit.code'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('sha256')
    )
    with op.batch_alter_table('submission', schema=None) as batch_op:
        batch_op.create_index('ix_submission_reporter_period', ['reporter_code', 'period'], unique=False)

    op.create_table('conflict',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('submission_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('severity', sa.String(length=8), nullable=False),
    sa.Column('sheet', sa.String(length=128), nullable=True),
    sa.Column('cell', sa.String(length=16), nullable=True),
    sa.Column('indicator_code', sa.String(length=64), nullable=True),
    sa.Column('expected', sa.Text(), nullable=True),
    sa.Column('found', sa.Text(), nullable=True),
    sa.Column('message_zh', sa.Text(), nullable=False),
    sa.Column('message_en', sa.Text(), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['submission_id'], ['submission.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('conflict', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_conflict_submission_id'), ['submission_id'], unique=False)

    op.create_table('value_history',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('reporter_code', sa.String(length=64), nullable=False),
    sa.Column('period', sa.String(length=7), nullable=False),
    sa.Column('indicator_code', sa.String(length=64), nullable=False),
    sa.Column('month_value', sa.Float(), nullable=True),
    sa.Column('ytd_value', sa.Float(), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('submission_id', sa.Integer(), nullable=False),
    sa.Column('valid_from', sa.DateTime(timezone=True), nullable=False),
    sa.Column('valid_to', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['indicator_code'], ['indicator.code'], ),
    sa.ForeignKeyConstraint(['reporter_code'], ['reporter.code'], ),
    sa.ForeignKeyConstraint(['submission_id'], ['submission.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('value_history', schema=None) as batch_op:
        batch_op.create_index('ix_value_period', ['period', 'indicator_code'], unique=False)
        batch_op.create_index('ux_value_current', ['reporter_code', 'period', 'indicator_code'], unique=True, sqlite_where=sa.text('valid_to IS NULL'), postgresql_where=sa.text('valid_to IS NULL'))


def downgrade() -> None:
    op.drop_table('value_history')
    op.drop_table('conflict')
    op.drop_table('submission')
    op.drop_table('inbox_file')
    op.drop_table('target')
    op.drop_table('reporter')
    op.drop_table('indicator')
    op.drop_table('unit')
    op.drop_table('org_unit')
