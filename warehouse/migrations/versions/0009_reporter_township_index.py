"""An index on reporter.township_code: every read of one township's month (its current values, submissions,
follow-ups) joins reporter on it, and without it each such read scans all of a province's 32,400 reporters
(~2.4 ms on PostgreSQL, several times per township published).

Revision ID: 0009
Revises: 0008
"""

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_reporter_township", "reporter", ["township_code"])


def downgrade() -> None:
    op.drop_index("ix_reporter_township", table_name="reporter")
