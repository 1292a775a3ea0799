"""Full-text search over a stored document (PostgreSQL only).

Migration 0003 indexed the expression ``to_tsvector('simple', signature ||
' ' || message)``; a search that reads the newest events in time order and
filters them (the plan for the first page) recomputed that expression for
every row it passed — ~2,000 rows for a page of Nmap events at a million
events — so the search's cost grew with the table (docs/decisions.md). The
document is now a stored generated column, ``search_document``, with a GIN
index; the expression index goes. Not in the model: Django never writes it
(PostgreSQL does), and SQLite (the embedded database) searches with LIKE.

Retention's week partitions are made ``LIKE`` the table ``INCLUDING
GENERATED`` and filled with an explicit column list (security/retention.py).
"""

from django.db import migrations

TABLE = "security_securityevent"
COLUMN = "search_document"
DOCUMENT = "to_tsvector('simple'::regconfig, signature || ' ' || message)"


def add_document(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        f'ALTER TABLE "{TABLE}" ADD COLUMN IF NOT EXISTS {COLUMN} tsvector '
        f"GENERATED ALWAYS AS ({DOCUMENT}) STORED"
    )
    schema_editor.execute(
        f'CREATE INDEX IF NOT EXISTS secevent_search_idx ON "{TABLE}" USING gin ({COLUMN})'
    )
    schema_editor.execute("DROP INDEX IF EXISTS secevent_fts_idx")


def remove_document(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        f'CREATE INDEX IF NOT EXISTS secevent_fts_idx ON "{TABLE}" USING gin ({DOCUMENT})'
    )
    schema_editor.execute("DROP INDEX IF EXISTS secevent_search_idx")
    schema_editor.execute(f'ALTER TABLE "{TABLE}" DROP COLUMN IF EXISTS {COLUMN}')


class Migration(migrations.Migration):
    dependencies = [
        ("security", "0007_partition_security_events"),
    ]

    operations = [
        migrations.RunPython(add_document, remove_document, elidable=False),
    ]
