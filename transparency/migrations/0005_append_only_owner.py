"""The test suite's TRUNCATE allowance is reachable only by the tables' owner.

0002 let any session of a ``test_…`` database empty the log by setting
``rs.allow_test_truncate``, a setting every role may set for itself. The allowance now also
needs the session's role to own the table (or be a member of its owner, or a superuser): the
service runs as a role that owns nothing (docs/deployment.md, "Database roles and keys"), so no
setting of its own reaches it, while the test runner, which created the tables, keeps it.
"""

from django.db import migrations

FUNCTION = r"""
CREATE OR REPLACE FUNCTION transparency_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'TRUNCATE'
       AND current_database() LIKE 'test\_%'
       AND pg_has_role(
           current_user, (SELECT relowner FROM pg_class WHERE oid = TG_RELID), 'USAGE')
       AND current_setting('rs.allow_test_truncate', true) = 'on' THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION 'the transparency log is append-only: % on % refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'restrict_violation';
END
$$;
"""

# 0002's function, for a migration backwards.
PREVIOUS_FUNCTION = r"""
CREATE OR REPLACE FUNCTION transparency_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
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


class Migration(migrations.Migration):
    dependencies = [("transparency", "0004_entry_openings")]

    operations = [migrations.RunSQL(FUNCTION, PREVIOUS_FUNCTION)]
