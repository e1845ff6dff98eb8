# A trigram index for the Archived view's search on the frozen names in capitals (0009 moves it onto the stored
# column `search_names`).

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("archive", "0003_drop_redundant_fk_indexes"),
        ("accounts", "0003_user_search_trigram_indexes"),  # creates the pg_trgm extension
    ]

    operations = [
        migrations.RunSQL(
            "CREATE INDEX ape_names_trgm ON archive_archivedplanenrollment USING gin "
            "((upper(user_username || ' ' || user_first_name || ' ' || user_last_name)) gin_trgm_ops)",
            "DROP INDEX ape_names_trgm",
        ),
    ]
