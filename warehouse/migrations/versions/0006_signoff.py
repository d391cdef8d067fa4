"""Sign-off (审核签发) and the period lock: who signed each vintage, and corrections pending a revision.

snapshot gains decision, signer, comment, signed_at (NULL for vintages frozen before this revision);
pending_value holds accepted corrections to a month already final until a signed revision applies them.
The snapshot views are recreated with the sign-off columns.

Revision ID: 0006
Revises: 0005
"""

from alembic import op
import sqlalchemy as sa

from warehouse.views import create_views

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN (no batch rebuild): snapshot is guarded against UPDATE/DELETE by triggers.
    op.add_column("snapshot", sa.Column("decision", sa.String(length=16), nullable=True))
    op.add_column("snapshot", sa.Column("signer", sa.String(length=128), nullable=True))
    op.add_column("snapshot", sa.Column("comment", sa.Text(), nullable=True))
    op.add_column("snapshot", sa.Column("signed_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "pending_value",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("submission_id", sa.Integer(), nullable=False),
        sa.Column("reporter_code", sa.String(length=64), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("indicator_code", sa.String(length=64), nullable=False),
        sa.Column("month_value", sa.Float(), nullable=True),
        sa.Column("ytd_value", sa.Float(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["submission_id"], ["submission.id"]),
        sa.ForeignKeyConstraint(["reporter_code"], ["reporter.code"]),
        sa.ForeignKeyConstraint(["indicator_code"], ["indicator.code"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_pending_value_submission_id", "pending_value", ["submission_id"])
    op.create_index("ix_pending_value_period", "pending_value", ["period", "reporter_code"])
    create_views(op, upto="0006")


def downgrade() -> None:
    op.drop_table("pending_value")
    create_views(op, signed=False, upto="0006")
    for c in ("signed_at", "comment", "signer", "decision"):
        op.drop_column("snapshot", c)
