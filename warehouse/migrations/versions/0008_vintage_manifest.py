"""The sha256 of each vintage folder's manifest.json, recorded when the folder is published (vintage_manifest):
`township verify` compares the manifest on disk with it, so files rewritten together with their manifest are
found. Write-once like the vintage's other rows: the database refuses UPDATE, DELETE (and TRUNCATE).

Revision ID: 0008
Revises: 0007
"""

from alembic import op
import sqlalchemy as sa

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "vintage_manifest",
        sa.Column("snapshot_id", sa.Integer(), nullable=False),
        sa.Column("manifest_sha256", sa.String(length=64), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["snapshot_id"], ["snapshot.id"]),
        sa.PrimaryKeyConstraint("snapshot_id"),
    )
    # The guards of 0002 and 0004: township_refuse_change() is 0002's.
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE TRIGGER vintage_manifest_immutable BEFORE UPDATE OR DELETE ON vintage_manifest "
                   "FOR EACH ROW EXECUTE FUNCTION township_refuse_change()")
        op.execute("CREATE TRIGGER vintage_manifest_no_truncate BEFORE TRUNCATE ON vintage_manifest "
                   "FOR EACH STATEMENT EXECUTE FUNCTION township_refuse_change()")
    else:
        for action in ("UPDATE", "DELETE"):
            op.execute(f"CREATE TRIGGER vintage_manifest_no_{action.lower()} BEFORE {action} ON vintage_manifest "
                       f"BEGIN SELECT RAISE(ABORT, 'published snapshots are immutable'); END")


def downgrade() -> None:
    op.drop_table("vintage_manifest")  # its triggers go with it
