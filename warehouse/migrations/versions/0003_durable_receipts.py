"""Receipts are committed with the load: each submission keeps its inbox path and when its receipt files were written.

A receipt is rebuilt from the submission and its conflicts, so a run that stopped (or a disk that
was full) between the load and the receipt files leaves them pending, and the next run writes them.

Revision ID: 0003
Revises: 0002
"""

from alembic import op
import sqlalchemy as sa

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("submission", sa.Column("path", sa.String(length=1024), nullable=True))
    op.add_column("submission", sa.Column("receipt_written_at", sa.DateTime(timezone=True), nullable=True))
    # Submissions loaded before this revision had their receipts written in the same run.
    op.execute("UPDATE submission SET receipt_written_at = processed_at, "
               "path = CASE WHEN inbox_folder = '' THEN file_name ELSE inbox_folder || '/' || file_name END")
    op.create_index("ix_submission_receipt_written_at", "submission", ["receipt_written_at"])


def downgrade() -> None:
    op.drop_index("ix_submission_receipt_written_at", table_name="submission")
    op.drop_column("submission", "receipt_written_at")
    op.drop_column("submission", "path")
