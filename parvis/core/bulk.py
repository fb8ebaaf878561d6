"""Inserting many rows (or one, very often) without the ORM's per-row compilation.

``Model.objects.bulk_create`` builds model instances and compiles every value of every
field through the SQL compiler: for the 20,000 deliveries of one fan-out that was
most of the time spent queueing them, and for the inbox, whose only write is one
row per request, as much as the rest of the request's database work.
:func:`insert_rows` writes the same rows with one prepared statement.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import islice
from typing import Any

from django.db import connection
from django.db.models import Field, Model


def insert_rows(
    model: type[Model],
    fields: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    unique: Sequence[str] = (),
    batch: int = 2000,
) -> int:
    """Insert ``rows`` (values of ``fields``, in that order); return how many were new.

    The model's other concrete fields (but an automatic primary key) take their
    default, computed once for all the rows (a ``timezone.now`` default is the same
    instant for every row). With ``unique`` (the fields of a unique constraint), a
    row that would break it is skipped (``ON CONFLICT … DO NOTHING``, SQLite and
    PostgreSQL); without, it raises ``IntegrityError``. Values go through each
    field's ``get_db_prep_save``, as with the ORM; no ``save()`` and no signal runs.
    """
    meta = model._meta
    given = [meta.get_field(name) for name in fields]
    pk = meta.pk
    automatic_pk = pk is not None and pk.get_internal_type().endswith("AutoField")
    if pk is not None and pk.name not in fields and not automatic_pk:
        # A default computed once would give every row the same key.
        raise ValueError(f"{meta.label}'s primary key must be given")
    others = [
        field
        for field in meta.concrete_fields
        if field.name not in fields and not (field.primary_key and automatic_pk)
    ]
    defaults = [field.get_db_prep_save(field.get_default(), connection) for field in others]
    quote = connection.ops.quote_name
    columns = ", ".join(quote(field.column) for field in [*given, *others])
    holes = ", ".join(["%s"] * (len(given) + len(others)))
    sql = f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES ({holes})"  # noqa: S608
    if unique:
        targets = ", ".join(quote(meta.get_field(name).column) for name in unique)
        sql += f" ON CONFLICT ({targets}) DO NOTHING"
    inserted = 0
    iterator = iter(rows)
    with connection.cursor() as cursor:
        while chunk := list(islice(iterator, batch)):
            values = [[*_prepared(given, row), *defaults] for row in chunk]
            if len(values) == 1:
                cursor.execute(sql, values[0])
            else:
                cursor.executemany(sql, values)
            inserted += max(cursor.rowcount, 0)
    return inserted


def _prepared(fields: list[Field[Any, Any]], row: Sequence[Any]) -> list[Any]:
    if len(row) != len(fields):
        raise ValueError(f"{len(row)} values for {len(fields)} fields")
    return [
        field.get_db_prep_save(value, connection) for field, value in zip(fields, row, strict=True)
    ]
