"""PostgreSQL roles: `analyst` may read the documented views and nothing else."""

from __future__ import annotations

from sqlalchemy import Engine, text

from warehouse.views import VIEWS

ANALYST_ROLE = "analyst"


def ensure_analyst_role(engine: Engine) -> bool:
    """Create (or re-grant) the read-only analyst role on PostgreSQL; False on other databases."""
    if engine.dialect.name != "postgresql":
        return False
    with engine.begin() as conn:
        exists = conn.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": ANALYST_ROLE}).first()
        if not exists:
            # NOLOGIN: a DBA grants it to real analyst logins (GRANT analyst TO alice).
            conn.execute(text(f"CREATE ROLE {ANALYST_ROLE} NOLOGIN"))
        db = conn.execute(text("SELECT current_database()")).scalar_one()
        conn.execute(text(f'GRANT CONNECT ON DATABASE "{db}" TO {ANALYST_ROLE}'))
        # Read-only means no temp tables either: TEMP comes from PUBLIC by default, so PUBLIC loses it
        # and only the roles that write (the owner, the pipeline's role) keep it.
        conn.execute(text(f'REVOKE TEMP ON DATABASE "{db}" FROM PUBLIC'))
        conn.execute(text(f'REVOKE TEMP ON DATABASE "{db}" FROM {ANALYST_ROLE}'))
        conn.execute(text(f"GRANT USAGE ON SCHEMA public TO {ANALYST_ROLE}"))
        conn.execute(text(f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {ANALYST_ROLE}"))
        for view in VIEWS:
            conn.execute(text(f"GRANT SELECT ON {view.name} TO {ANALYST_ROLE}"))
    return True
