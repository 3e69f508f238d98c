"""Alembic environment: runs on the connection that contract_sync.store.db hands over, with
the models to compare against (for autogenerate) handed over the same way: the migrations
import no code of contract_sync outside this package, so that replaying a revision makes
what it made when it was written."""

from alembic import context

config = context.config
context.configure(
    connection=config.attributes["connection"],
    target_metadata=config.attributes.get("target_metadata"),
    render_as_batch=True,
    # Autogenerate writes the store's exact decimal type as its frozen copy (the template
    # imports it), never as the live contract_sync.store.types.
    user_module_prefix="scaled_0001.",
)
with context.begin_transaction():
    context.run_migrations()
