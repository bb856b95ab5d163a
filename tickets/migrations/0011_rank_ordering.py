"""`?ordering=priority|status` by rank (tickets.ranks), served by an index at a million tickets.

Two immutable SQL functions give the ranks of tickets.ranks (most urgent first; the workflow's
order), and an index on each (rank, id) orders the list without sorting every visible ticket.
PostgreSQL only: SQLite (the embedded set-up) orders by the same ranks written as CASE.
"""

from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps

RANK_FUNCTIONS = [
    """
CREATE OR REPLACE FUNCTION ticket_priority_rank(value text) RETURNS integer
IMMUTABLE PARALLEL SAFE LANGUAGE sql AS $$
  SELECT CASE value WHEN 'urgent' THEN 0 WHEN 'high' THEN 1 WHEN 'normal' THEN 2
                    WHEN 'low' THEN 3 ELSE 4 END
$$
""",
    """
CREATE OR REPLACE FUNCTION ticket_status_rank(value text) RETURNS integer
IMMUTABLE PARALLEL SAFE LANGUAGE sql AS $$
  SELECT CASE value WHEN 'new' THEN 0 WHEN 'assigned' THEN 1 WHEN 'in_progress' THEN 2
                    WHEN 'waiting' THEN 3 WHEN 'resolved' THEN 4 WHEN 'closed' THEN 5
                    WHEN 'cancelled' THEN 6 ELSE 7 END
$$
""",
]
RANK_INDEXES = [
    "CREATE INDEX ticket_priority_rank_idx ON tickets_ticket (ticket_priority_rank(priority), id)",
    "CREATE INDEX ticket_status_rank_idx ON tickets_ticket (ticket_status_rank(status), id)",
]


def create_rank_indexes(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        for statement in [*RANK_FUNCTIONS, *RANK_INDEXES]:
            schema_editor.execute(statement)


def drop_rank_indexes(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS ticket_priority_rank_idx")
        schema_editor.execute("DROP INDEX IF EXISTS ticket_status_rank_idx")
        schema_editor.execute("DROP FUNCTION IF EXISTS ticket_priority_rank(text)")
        schema_editor.execute("DROP FUNCTION IF EXISTS ticket_status_rank(text)")


class Migration(migrations.Migration):
    dependencies = [("tickets", "0010_ordering_indexes")]

    operations = [migrations.RunPython(create_rank_indexes, drop_rank_indexes)]
