"""Planner settings for one statement, where PostgreSQL's guess is known to pick a slow plan and the fast one is
known (each use says why, with what it measured)."""

from __future__ import annotations

from collections.abc import Sequence

from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import QuerySet


def rows_planned_without(queryset: QuerySet, plans: Sequence[str]) -> list[tuple]:
    """The rows of `queryset` (as tuples of its selected values), planned with these plan types switched off
    (`enable_<plan> = off`) for this statement alone. The settings, the query and their reset go as one batch,
    which PostgreSQL runs as one transaction (or inside the caller's), so a failure rolls the settings back too."""
    try:
        sql, params = queryset.query.sql_with_params()
    except EmptyResultSet:  # a filter that matches nothing by construction (`pk__in=[]`): no statement at all
        return []
    switched_off = "; ".join(f"SET enable_{plan} = off" for plan in plans)
    reset = "; ".join(f"RESET enable_{plan}" for plan in plans)
    with connection.cursor() as cursor:
        cursor.execute(f"{switched_off}; {sql}; {reset}", params)
        while cursor.description is None and cursor.nextset():
            pass  # past the settings' results to the query's rows
        return cursor.fetchall()
