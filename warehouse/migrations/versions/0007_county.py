"""The county roll-up: county vintages are snapshot rows whose org unit is the county; county_source names, per
county vintage and township, the township's signed vintage it was built from (sealed and guarded like the
vintage's other rows); indicator.county_aggregation; the views county_indicators, county_lineage, township_ranking.

Revision ID: 0007
Revises: 0006
"""

from alembic import op
import sqlalchemy as sa

from warehouse.views import create_views, drop_views

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("indicator", sa.Column("county_aggregation", sa.String(length=8), nullable=False,
                                         server_default="sum"))
    op.create_table(
        "county_source",
        sa.Column("snapshot_id", sa.Integer(), nullable=False),
        sa.Column("township_code", sa.String(length=64), nullable=False),
        sa.Column("source_snapshot_id", sa.Integer(), nullable=True),
        sa.Column("source_vintage", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["snapshot_id"], ["snapshot.id"]),
        sa.ForeignKeyConstraint(["source_snapshot_id"], ["snapshot.id"]),
        sa.ForeignKeyConstraint(["township_code"], ["org_unit.code"]),
        sa.PrimaryKeyConstraint("snapshot_id", "township_code"),
    )
    op.create_index("ix_county_source_source", "county_source", ["source_snapshot_id"])
    # The guards of 0002 (no UPDATE/DELETE) and 0004 (no row for a sealed vintage, no TRUNCATE).
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE TRIGGER county_source_immutable BEFORE UPDATE OR DELETE ON county_source "
                   "FOR EACH ROW EXECUTE FUNCTION township_refuse_change()")
        op.execute("CREATE TRIGGER county_source_sealed BEFORE INSERT ON county_source "
                   "FOR EACH ROW EXECUTE FUNCTION township_refuse_sealed_insert()")
        op.execute("CREATE TRIGGER county_source_no_truncate BEFORE TRUNCATE ON county_source "
                   "FOR EACH STATEMENT EXECUTE FUNCTION township_refuse_change()")
    else:
        for action in ("UPDATE", "DELETE"):
            op.execute(f"CREATE TRIGGER county_source_no_{action.lower()} BEFORE {action} ON county_source "
                       f"BEGIN SELECT RAISE(ABORT, 'published snapshots are immutable'); END")
        op.execute("CREATE TRIGGER county_source_sealed BEFORE INSERT ON county_source "
                   "WHEN EXISTS (SELECT 1 FROM snapshot_seal WHERE snapshot_id = NEW.snapshot_id) "
                   "BEGIN SELECT RAISE(ABORT, 'published snapshots are immutable: vintage is sealed'); END")
    create_views(op, upto="0007")


def downgrade() -> None:
    # Every view first: SQLite rebuilds `indicator` to drop a column, and refuses while views name it.
    drop_views(op)
    op.drop_table("county_source")  # its triggers go with it
    with op.batch_alter_table("indicator") as batch:
        batch.drop_column("county_aggregation")
    create_views(op, upto="0006")
