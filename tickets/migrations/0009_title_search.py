"""Title search at a million tickets (issue #6).

`?search=` matches a reference exactly or any part of a title (`UPPER(title) LIKE %word%`), which
no B-tree serves: a word in few titles scanned every visible ticket (0.46 s at 1M). PostgreSQL
gets a GIN index of each title's character pairs (bigrams, case-folded by UPPER as the LIKE is),
so the candidates of a word of two or more characters are the titles holding all its pairs;
a two-character Chinese word has one pair, where pg_trgm's trigrams would have none. The LIKE
still decides. SQLite (the embedded set-up) keeps the plain scan.
"""

from django.db import migrations, models
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps
from django.db.models.functions import Upper

# A pair is its two code points in one bigint (21 bits each). IMMUTABLE as an index expression
# must be: UPPER depends on the database's ctype, fixed at creation. The high COST makes the
# planner test the cheap LIKE first on rows it reads in order, and call this only on those.
BIGRAMS_FUNCTION = """
CREATE OR REPLACE FUNCTION ticket_bigrams(value text) RETURNS bigint[]
IMMUTABLE STRICT PARALLEL SAFE COST 1000 LANGUAGE sql AS $$
  SELECT coalesce(
    array_agg(DISTINCT (ascii(substr(folded, i, 1))::bigint << 21)
                       | ascii(substr(folded, i + 1, 1))),
    '{}')
  FROM (SELECT upper(value) AS folded) AS title, generate_series(1, length(folded) - 1) AS i
$$
"""
BIGRAMS_INDEX = (
    "CREATE INDEX ticket_title_bigrams_idx ON tickets_ticket USING gin (ticket_bigrams(title))"
)


def create_bigram_index(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BIGRAMS_FUNCTION)
        schema_editor.execute(BIGRAMS_INDEX)


def drop_bigram_index(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS ticket_title_bigrams_idx")
        schema_editor.execute("DROP FUNCTION IF EXISTS ticket_bigrams(text)")


class Migration(migrations.Migration):
    dependencies = [("tickets", "0008_provider_breach_index")]

    operations = [
        migrations.AddIndex(
            model_name="ticket",
            index=models.Index(Upper("reference"), name="ticket_reference_upper_idx"),
        ),
        migrations.RunPython(create_bigram_index, drop_bigram_index),
    ]
