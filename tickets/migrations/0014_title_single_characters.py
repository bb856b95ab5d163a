"""Title search of a single character at a million tickets (issue #6).

The bigram index of migration 0009 holds no single character, so a one-character term (a
Chinese word is often one: 网, 鑫) was looked for by reading the list in order: every visible
ticket when no title holds it (0.1-0.3 s at 1M). `ticket_grams(title)` is each title's pairs
and each of its characters alone (its code point shifted as a pair's first, the second 0, which
no pair has: text holds no NUL), and its GIN index replaces the pairs' one. A term's keys are
`ticket_term_grams(term)`: its pairs, or for one character that character, so a longer term
does not look up the long lists of its single characters.
"""

from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps

GRAMS_FUNCTIONS = """
CREATE OR REPLACE FUNCTION ticket_grams(value text) RETURNS bigint[]
IMMUTABLE STRICT PARALLEL SAFE COST 1000 LANGUAGE sql AS $$
  SELECT ticket_bigrams(value)
         || coalesce(array_agg(DISTINCT ascii(substr(folded, i, 1))::bigint << 21), '{}')
  FROM (SELECT upper(value) AS folded) AS title, generate_series(1, length(folded)) AS i
$$;
CREATE OR REPLACE FUNCTION ticket_term_grams(value text) RETURNS bigint[]
IMMUTABLE STRICT PARALLEL SAFE LANGUAGE sql AS $$
  SELECT CASE WHEN length(value) = 1 THEN ARRAY[ascii(upper(value))::bigint << 21]
              ELSE ticket_bigrams(value) END
$$;
"""
GRAMS_INDEX = "CREATE INDEX ticket_title_grams_idx ON tickets_ticket USING gin (ticket_grams(title))"
BIGRAMS_INDEX = (
    "CREATE INDEX ticket_title_bigrams_idx ON tickets_ticket USING gin (ticket_bigrams(title))"
)


def create_grams_index(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(GRAMS_FUNCTIONS)
        schema_editor.execute(GRAMS_INDEX)
        schema_editor.execute("DROP INDEX IF EXISTS ticket_title_bigrams_idx")


def drop_grams_index(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BIGRAMS_INDEX)
        schema_editor.execute("DROP INDEX IF EXISTS ticket_title_grams_idx")
        schema_editor.execute("DROP FUNCTION IF EXISTS ticket_term_grams(text)")
        schema_editor.execute("DROP FUNCTION IF EXISTS ticket_grams(text)")


class Migration(migrations.Migration):
    dependencies = [("tickets", "0013_assignee_due_index")]

    operations = [migrations.RunPython(create_grams_index, drop_grams_index)]
