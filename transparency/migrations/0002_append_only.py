"""Make the log's tables append-only in the database: UPDATE, DELETE and TRUNCATE are refused.

Whatever the application does, a row once written stays as written. The one exception lets the
test suite empty the tables between tests: TRUNCATE is allowed only in a Django test database
(named ``test_…``) whose session has set ``rs.allow_test_truncate``.
"""

from django.db import migrations

TABLES = ("transparency_entry", "transparency_tile", "transparency_checkpoint")

FUNCTION = r"""
CREATE FUNCTION transparency_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'TRUNCATE'
       AND current_database() LIKE 'test\_%'
       AND current_setting('rs.allow_test_truncate', true) = 'on' THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION 'the transparency log is append-only: % on % refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'restrict_violation';
END
$$;
"""

TRIGGERS = "".join(
    f"""
CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}
    FOR EACH ROW EXECUTE FUNCTION transparency_refuse_change();
CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table}
    FOR EACH STATEMENT EXECUTE FUNCTION transparency_refuse_change();
"""
    for table in TABLES
)

REVERSE = (
    "".join(
        f"DROP TRIGGER {table}_append_only ON {table}; DROP TRIGGER {table}_no_truncate ON {table};"
        for table in TABLES
    )
    + "DROP FUNCTION transparency_refuse_change();"
)


class Migration(migrations.Migration):
    dependencies = [("transparency", "0001_initial")]

    operations = [migrations.RunSQL(FUNCTION + TRIGGERS, REVERSE)]
