from django.db import migrations


class Migration(migrations.Migration):
    """An archived record's trail: the audit events whose `archive_ids` name it, whatever archived it."""

    dependencies = [("audit", "0001_initial")]

    operations = [
        migrations.RunSQL(
            "CREATE INDEX audit_archive_ids_idx ON audit_auditevent "
            "USING gin ((details -> 'archive_ids') jsonb_path_ops)",
            "DROP INDEX audit_archive_ids_idx",
        ),
    ]
