"""Alembic environment: runs migrations on the engine handed over by `warehouse.engine.upgrade`."""

from alembic import context

from warehouse.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    engine = config.attributes.get("engine")
    if engine is None:
        from township.settings import get_settings
        from warehouse.engine import make_engine

        engine = make_engine(config.get_main_option("sqlalchemy.url") or get_settings().warehouse_url)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
        )
        with context.begin_transaction():
            context.run_migrations()


run_migrations_online()
