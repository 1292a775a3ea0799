"""Security events: a table partitioned by ``occurred_at`` on PostgreSQL.

Retention (security.retention) then removes a whole week by DETACH + DROP
instead of deleting millions of rows. The table is converted in place, rows
and all: the old table is renamed, a partitioned one made with the same
columns, CHECK constraints and defaults, week partitions created for the
retention period and the weeks ahead, plus a DEFAULT partition for anything
else; the rows are copied, the old table dropped, and
its indexes and foreign keys recreated — read from the catalog, so whatever
earlier migrations added comes along under the same names.

What changes on PostgreSQL:
- the primary key is (id, occurred_at) and the agent's ``uuid`` is unique
  with ``occurred_at``: PostgreSQL's unique constraints on a partitioned
  table must include the partition key. Django keeps seeing ``id`` as the
  primary key and ``uuid`` as unique (the model state is untouched): ids come
  from one sequence, and an agent's retry carries the same (uuid,
  occurred_at), so ingest's ``ON CONFLICT (uuid, occurred_at)`` still stores
  it once;
- ``id`` takes its values from a sequence owned by the column (PostgreSQL 15
  has no identity columns on partitioned tables), continuing after the
  largest id.

No foreign key may point at the events table (one would need the whole key,
(id, occurred_at)): the migration stops with a message if one does. Events
point at others (gateway, acknowledged_by, incident): those are kept.

SQLite (the embedded database): nothing changes; retention deletes in
batches there.
"""

from django.db import migrations
from django.utils import timezone

TABLE = "security_securityevent"
OLD = f"{TABLE}_unpartitioned"


def _fetch(cursor, sql, params=()):
    cursor.execute(sql, params)
    return cursor.fetchall()


def partition(apps, schema_editor):
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return
    from security import retention

    with connection.cursor() as cursor:
        kind = _fetch(cursor, "SELECT relkind FROM pg_class WHERE oid = to_regclass(%s)", [TABLE])
        if kind and kind[0][0] == "p":
            return  # already partitioned
        cursor.execute(f'LOCK TABLE "{TABLE}" IN ACCESS EXCLUSIVE MODE')
        pointing_here = _fetch(
            cursor,
            "SELECT conname, conrelid::regclass::text FROM pg_constraint "
            "WHERE contype = 'f' AND confrelid = %s::regclass",
            [TABLE],
        )
        if pointing_here:
            raise RuntimeError(
                "Cannot partition security_securityevent: foreign keys point at it "
                f"({pointing_here}). A foreign key to a partitioned table needs the whole "
                "primary key (id, occurred_at); reference events by (uuid, occurred_at) "
                "or keep the link on the event's side."
            )
        # Indexes other than the primary key and uuid's unique constraint, and
        # the foreign keys, as PostgreSQL would write them.
        indexes = _fetch(
            cursor,
            "SELECT pg_get_indexdef(i.indexrelid) FROM pg_index i "
            "WHERE i.indrelid = %s::regclass AND NOT i.indisprimary AND NOT EXISTS "
            "(SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)",
            [TABLE],
        )
        foreign_keys = _fetch(
            cursor,
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE contype = 'f' AND conrelid = %s::regclass",
            [TABLE],
        )

        cursor.execute(f'ALTER TABLE "{TABLE}" RENAME TO "{OLD}"')
        # Columns, NOT NULL, CHECK constraints (positive ports) and defaults;
        # not the identity, indexes or keys: they follow below.
        cursor.execute(
            f'CREATE TABLE "{TABLE}" (LIKE "{OLD}" INCLUDING DEFAULTS INCLUDING CONSTRAINTS '
            "INCLUDING STORAGE INCLUDING COMMENTS) PARTITION BY RANGE (occurred_at)"
        )
        cursor.execute(
            f'CREATE TABLE "{retention.DEFAULT_PARTITION}" PARTITION OF "{TABLE}" DEFAULT'
        )
        # The weeks of the retention period and those ahead, as the beat
        # task keeps them; older rows go to the default partition, where the
        # task's next run deletes them (in batches).
        retention.ensure_partitions(timezone.now())
        cursor.execute(f'INSERT INTO "{TABLE}" SELECT * FROM "{OLD}"')
        cursor.execute(f'DROP TABLE "{OLD}"')

        sequence = f"{TABLE}_id_seq"
        cursor.execute(f'CREATE SEQUENCE "{sequence}" OWNED BY "{TABLE}".id')
        cursor.execute(f"ALTER TABLE \"{TABLE}\" ALTER COLUMN id SET DEFAULT nextval('{sequence}')")
        cursor.execute(
            f"SELECT setval('{sequence}', coalesce((SELECT max(id) FROM \"{TABLE}\"), 0) + 1, false)"
        )
        cursor.execute(
            f'ALTER TABLE "{TABLE}" ADD CONSTRAINT "{TABLE}_pkey" PRIMARY KEY (id, occurred_at)'
        )
        # ingest's ON CONFLICT (uuid, occurred_at) target; also serves the
        # event page's lookup by uuid (one probe per partition).
        cursor.execute(
            f'ALTER TABLE "{TABLE}" ADD CONSTRAINT "{retention.UUID_CONSTRAINT}" '
            "UNIQUE (uuid, occurred_at)"
        )
        for (definition,) in indexes:
            cursor.execute(definition)  # read before the rename: names the new table
        for name, definition in foreign_keys:
            cursor.execute(f'ALTER TABLE "{TABLE}" ADD CONSTRAINT "{name}" {definition}')
        cursor.execute(f'ANALYZE "{TABLE}"')


def unpartition(apps, schema_editor):
    """Back to one plain table (id primary key, uuid unique, identity id)."""
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return

    with connection.cursor() as cursor:
        kind = _fetch(cursor, "SELECT relkind FROM pg_class WHERE oid = to_regclass(%s)", [TABLE])
        if not kind or kind[0][0] != "p":
            return
        cursor.execute(f'LOCK TABLE "{TABLE}" IN ACCESS EXCLUSIVE MODE')
        indexes = _fetch(
            cursor,
            "SELECT pg_get_indexdef(i.indexrelid) FROM pg_index i "
            "WHERE i.indrelid = %s::regclass AND NOT i.indisprimary AND NOT EXISTS "
            "(SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)",
            [TABLE],
        )
        foreign_keys = _fetch(
            cursor,
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE contype = 'f' AND conrelid = %s::regclass AND conparentid = 0",
            [TABLE],
        )
        cursor.execute(f'ALTER TABLE "{TABLE}" RENAME TO "{OLD}"')
        cursor.execute(
            f'CREATE TABLE "{TABLE}" (LIKE "{OLD}" INCLUDING CONSTRAINTS INCLUDING STORAGE '
            "INCLUDING COMMENTS)"
        )
        cursor.execute(f'INSERT INTO "{TABLE}" SELECT * FROM "{OLD}"')
        cursor.execute(f'DROP TABLE "{OLD}" CASCADE')  # its partitions and sequence
        cursor.execute(
            f'ALTER TABLE "{TABLE}" ALTER COLUMN id ADD GENERATED BY DEFAULT AS IDENTITY'
        )
        cursor.execute(
            f"SELECT setval(pg_get_serial_sequence('\"{TABLE}\"', 'id'), "
            f'coalesce((SELECT max(id) FROM "{TABLE}"), 0) + 1, false)'
        )
        cursor.execute(f'ALTER TABLE "{TABLE}" ADD CONSTRAINT "{TABLE}_pkey" PRIMARY KEY (id)')
        cursor.execute(f'ALTER TABLE "{TABLE}" ADD CONSTRAINT "{TABLE}_uuid_key" UNIQUE (uuid)')
        for (definition,) in indexes:
            cursor.execute(definition.replace(" ON ONLY ", " ON ", 1))
        for name, definition in foreign_keys:
            cursor.execute(f'ALTER TABLE "{TABLE}" ADD CONSTRAINT "{name}" {definition}')


class Migration(migrations.Migration):
    dependencies = [
        ("security", "0006_containment"),
    ]

    operations = [
        migrations.RunPython(partition, unpartition, elidable=False),
    ]
