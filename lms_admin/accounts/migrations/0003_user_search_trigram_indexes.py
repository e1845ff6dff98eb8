# Trigram indexes for the lists' "contains" search on users (UPPER(col) LIKE UPPER('%word%')).

import django.contrib.postgres.indexes
import django.db.models.functions.text
from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations

COLUMNS = ("username", "first_name", "last_name", "email")


def index_state(column: str) -> migrations.AddIndex:
    return migrations.AddIndex(
        model_name="user",
        index=django.contrib.postgres.indexes.GinIndex(
            django.contrib.postgres.indexes.OpClass(django.db.models.functions.text.Upper(column), name="gin_trgm_ops"),
            name=f"user_{column}_trgm",
        ),
    )


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_api_tokens"),
    ]

    operations = [
        TrigramExtension(),
        # Written by hand: the SQL Django generates for an OpClass around a function is rejected by PostgreSQL.
        *(
            migrations.RunSQL(
                sql=f'CREATE INDEX "user_{column}_trgm" ON "accounts_user" USING gin ((UPPER("{column}")) gin_trgm_ops)',
                reverse_sql=f'DROP INDEX IF EXISTS "user_{column}_trgm"',
                state_operations=[index_state(column)],
            )
            for column in COLUMNS
        ),
    ]
