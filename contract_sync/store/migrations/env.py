"""Alembic environment: runs on the connection that contract_sync.store.db hands over."""

from alembic import context

from contract_sync.store.schema import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
