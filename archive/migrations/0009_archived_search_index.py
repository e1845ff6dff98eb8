# The Archived view's search at 300,000 records per plan (docs/PERFORMANCE.md): the frozen names stored in capitals,
# their trigram index on the column, and the plan's date index carrying them for index-only walks.

import django.contrib.postgres.indexes
import django.db.models.functions.text
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("archive", "0008_reset_tracking_values"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        # The trigram index of 0004 was on the expression; it now indexes the stored column of the same text.
        migrations.RunSQL(
            "DROP INDEX ape_names_trgm",
            "CREATE INDEX ape_names_trgm ON archive_archivedplanenrollment USING gin "
            "((upper(user_username || ' ' || user_first_name || ' ' || user_last_name)) gin_trgm_ops)",
        ),
        migrations.RemoveIndex(
            model_name="archivedplanenrollment",
            name="ape_plan_archived_idx",
        ),
        migrations.AddField(
            model_name="archivedplanenrollment",
            name="search_names",
            field=models.GeneratedField(
                db_persist=True,
                expression=django.db.models.functions.text.Upper(
                    django.db.models.functions.text.Concat(
                        "user_username", models.Value(" "), "user_first_name", models.Value(" "), "user_last_name"
                    )
                ),
                output_field=models.TextField(),
            ),
        ),
        migrations.AddIndex(
            model_name="archivedplanenrollment",
            index=models.Index(
                fields=["learning_plan", "-archived_at", "-id"], include=("search_names",), name="ape_plan_archived_idx"
            ),
        ),
        migrations.AddIndex(
            model_name="archivedplanenrollment",
            index=django.contrib.postgres.indexes.GinIndex(
                fields=["search_names"], name="ape_names_trgm", opclasses=["gin_trgm_ops"]
            ),
        ),
    ]
