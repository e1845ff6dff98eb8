"""Reads every request makes — the signed-in session, its user, the job a progress panel polls — with one plain
statement each instead of a queryset (docs/architecture.md, "Server CPU per page view": building and compiling
a queryset is most of a small request's Python work).

`fetch_by_pk(model, pk)` returns the same instance `model.objects.get(pk=pk)` would (every concrete field,
through each field's own converters), or None; `row_exists(model, field, value)` is
`model.objects.filter(field=value).exists()`. Only for models whose default manager filters nothing.
"""

from __future__ import annotations

from functools import cache
from typing import Any, TypeVar

from django.db import connection
from django.db.models import Model

M = TypeVar("M", bound=Model)


@cache
def _select(model: type[Model]) -> tuple[str, tuple[str, ...], tuple[tuple[int, Any], ...]]:
    """The statement, the attribute names in its column order, and (index, converter) of the converted columns."""
    quote = connection.ops.quote_name
    fields = model._meta.concrete_fields
    columns = ", ".join(quote(f.column) for f in fields)
    sql = f"SELECT {columns} FROM {quote(model._meta.db_table)} WHERE {quote(model._meta.pk.column)} = %s"
    converters = tuple(
        (index, converter) for index, f in enumerate(fields) for converter in f.get_db_converters(connection)
    )
    return sql, tuple(f.attname for f in fields), converters


def fetch_by_pk(model: type[M], pk: Any) -> M | None:
    """`model`'s row `pk` as an instance (as the ORM loads it), or None when there is none."""
    sql, attnames, converters = _select(model)
    with connection.cursor() as cursor:
        cursor.execute(sql, [pk])
        row = cursor.fetchone()
    if row is None:
        return None
    if converters:
        row = list(row)
        for index, converter in converters:
            row[index] = converter(row[index], None, connection)
    return model.from_db(connection.alias, attnames, row)


@cache
def _exists(model: type[Model], field: str) -> str:
    quote = connection.ops.quote_name
    column = model._meta.get_field(field).column
    return f"SELECT EXISTS (SELECT 1 FROM {quote(model._meta.db_table)} WHERE {quote(column)} = %s)"


def row_exists(model: type[Model], field: str, value: Any) -> bool:
    """Whether a row of `model` has `value` in `field` (a column of its own table)."""
    with connection.cursor() as cursor:
        cursor.execute(_exists(model, field), [value])
        return cursor.fetchone()[0]
