"""Published snapshots (vintages), their values, changes and checks.

Revision ID: 0002
Revises: 0001
"""

from alembic import op
import sqlalchemy as sa

from warehouse.views import create_immutability_guards, create_views, drop_views

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('snapshot',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('township_code', sa.String(length=64), nullable=False),
    sa.Column('period', sa.String(length=7), nullable=False),
    sa.Column('vintage', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('period_label', sa.String(length=16), nullable=False),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['township_code'], ['org_unit.code'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('township_code', 'period', 'vintage', name='uq_snapshot_vintage')
    )
    op.create_table('snapshot_value',
    sa.Column('snapshot_id', sa.Integer(), nullable=False),
    sa.Column('indicator_code', sa.String(length=64), nullable=False),
    sa.Column('month_value', sa.Float(), nullable=True),
    sa.Column('ytd_value', sa.Float(), nullable=True),
    sa.Column('prior_ytd_value', sa.Float(), nullable=True),
    sa.Column('yoy_pct', sa.Float(), nullable=True),
    sa.Column('annual_target', sa.Float(), nullable=True),
    sa.Column('target_pct', sa.Float(), nullable=True),
    sa.Column('schedule_gap_pp', sa.Float(), nullable=True),
    sa.Column('reporters_expected', sa.Integer(), nullable=False),
    sa.Column('reporters_reported', sa.Integer(), nullable=False),
    sa.Column('missing_reporters', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['indicator_code'], ['indicator.code'], ),
    sa.ForeignKeyConstraint(['snapshot_id'], ['snapshot.id'], ),
    sa.PrimaryKeyConstraint('snapshot_id', 'indicator_code')
    )
    op.create_table('snapshot_change',
    sa.Column('snapshot_id', sa.Integer(), nullable=False),
    sa.Column('indicator_code', sa.String(length=64), nullable=False),
    sa.Column('old_month_value', sa.Float(), nullable=True),
    sa.Column('new_month_value', sa.Float(), nullable=True),
    sa.Column('old_ytd_value', sa.Float(), nullable=True),
    sa.Column('new_ytd_value', sa.Float(), nullable=True),
    sa.Column('submission_ids', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['indicator_code'], ['indicator.code'], ),
    sa.ForeignKeyConstraint(['snapshot_id'], ['snapshot.id'], ),
    sa.PrimaryKeyConstraint('snapshot_id', 'indicator_code')
    )
    op.create_table('snapshot_check',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('snapshot_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('indicator_code', sa.String(length=64), nullable=True),
    sa.Column('message_zh', sa.Text(), nullable=False),
    sa.Column('message_en', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['snapshot_id'], ['snapshot.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('snapshot_check', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_snapshot_check_snapshot_id'), ['snapshot_id'], unique=False)

    create_views(op, signed=False, upto="0002")  # the sign-off columns come with 0005
    create_immutability_guards(op, op.get_bind().dialect.name)


def downgrade() -> None:
    drop_views(op)
    op.drop_table('snapshot_check')
    op.drop_table('snapshot_change')
    op.drop_table('snapshot_value')
    op.drop_table('snapshot')
