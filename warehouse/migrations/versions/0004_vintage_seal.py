"""Published vintages hold against TRUNCATE and late inserts: a seal per vintage, and guards.

0002 refuses UPDATE and DELETE. Still possible afterwards were TRUNCATE (PostgreSQL; statement-level,
so row triggers never fire) and INSERT of rows into an already-published vintage. Now each vintage is
sealed in its own transaction (a `snapshot_seal` row written last), the database refuses rows for a
sealed vintage, and TRUNCATE of any snapshot table. Existing vintages are sealed here.

Revision ID: 0004
Revises: 0003
"""

from alembic import op
import sqlalchemy as sa

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

SEALED_CHILDREN = ("snapshot_value", "snapshot_change", "snapshot_check")
GUARDED = ("snapshot", *SEALED_CHILDREN, "snapshot_seal")


def upgrade() -> None:
    op.create_table(
        "snapshot_seal",
        sa.Column("snapshot_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["snapshot_id"], ["snapshot.id"]),
        sa.PrimaryKeyConstraint("snapshot_id"),
    )
    op.execute("INSERT INTO snapshot_seal (snapshot_id) SELECT id FROM snapshot")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("""CREATE OR REPLACE FUNCTION township_refuse_sealed_insert() RETURNS trigger AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM snapshot_seal WHERE snapshot_id = NEW.snapshot_id) THEN
    RAISE EXCEPTION 'published snapshots are immutable: vintage % is sealed (table %)',
      NEW.snapshot_id, TG_TABLE_NAME;
  END IF;
  RETURN NEW;
END;
$$ LANGUAGE plpgsql""")
        for t in SEALED_CHILDREN:
            op.execute(f"CREATE TRIGGER {t}_sealed BEFORE INSERT ON {t} "
                       f"FOR EACH ROW EXECUTE FUNCTION township_refuse_sealed_insert()")
        # township_refuse_change() is 0002's; it raises for any event, statements included.
        op.execute("CREATE TRIGGER snapshot_seal_immutable BEFORE UPDATE OR DELETE ON snapshot_seal "
                   "FOR EACH ROW EXECUTE FUNCTION township_refuse_change()")
        for t in GUARDED:
            op.execute(f"CREATE TRIGGER {t}_no_truncate BEFORE TRUNCATE ON {t} "
                       f"FOR EACH STATEMENT EXECUTE FUNCTION township_refuse_change()")
    else:
        # SQLite has no TRUNCATE (its DELETE without WHERE still fires 0002's DELETE triggers).
        for t in SEALED_CHILDREN:
            op.execute(f"CREATE TRIGGER {t}_sealed BEFORE INSERT ON {t} "
                       f"WHEN EXISTS (SELECT 1 FROM snapshot_seal WHERE snapshot_id = NEW.snapshot_id) "
                       f"BEGIN SELECT RAISE(ABORT, 'published snapshots are immutable: vintage is sealed'); END")
        for action in ("UPDATE", "DELETE"):
            op.execute(f"CREATE TRIGGER snapshot_seal_no_{action.lower()} BEFORE {action} ON snapshot_seal "
                       f"BEGIN SELECT RAISE(ABORT, 'published snapshots are immutable'); END")


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for t in SEALED_CHILDREN:
        op.execute(f"DROP TRIGGER IF EXISTS {t}_sealed" + (f" ON {t}" if postgres else ""))
    if postgres:
        for t in GUARDED:
            op.execute(f"DROP TRIGGER IF EXISTS {t}_no_truncate ON {t}")
        op.execute("DROP FUNCTION IF EXISTS township_refuse_sealed_insert()")
    op.drop_table("snapshot_seal")
