-- The application role and the functions every later migration relies on.
--
-- Migrations run as the owner role (auralink_owner locally, the RDS master user in AWS), which
-- owns every object. The service connects as auralink_app: it owns nothing, cannot bypass
-- row-level security and receives only the grants listed in each migration. None of this needs
-- a superuser.

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'auralink_app') THEN
        CREATE ROLE auralink_app LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE NOINHERIT;
    END IF;
END
$$;

-- Before PostgreSQL 15 every role could create objects in the public schema; nobody but the
-- owner may now.
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO auralink_app;

-- The caller of the current transaction, set by the service with
-- set_config('app.current_user_id', <sub>, true). Once a transaction that set it ends, the
-- setting reads as '' rather than NULL, hence nullif: no caller must match no row.
CREATE FUNCTION app_current_user_id() RETURNS text
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN nullif(current_setting('app.current_user_id', true), '');

REVOKE EXECUTE ON FUNCTION app_current_user_id() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION app_current_user_id() TO auralink_app;

CREATE FUNCTION set_updated_at() RETURNS trigger
    LANGUAGE plpgsql AS
$$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END
$$;

-- The health check reads the schema version; the service role has no access to the
-- bookkeeping table itself.
CREATE FUNCTION schema_version() RETURNS text
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    RETURN (SELECT max(version) FROM public.schema_migrations);

REVOKE EXECUTE ON FUNCTION schema_version() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION schema_version() TO auralink_app;

-- Row-level security of a user-owned table, the same everywhere: ENABLE and FORCE (so that
-- not even the owner reads across users by accident) and one policy for every command. Later
-- migrations call it for each new table that carries user_id.
CREATE FUNCTION enable_tenant_rls(target regclass) RETURNS void
    LANGUAGE plpgsql AS
$$
BEGIN
    EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', target);
    EXECUTE format('ALTER TABLE %s FORCE ROW LEVEL SECURITY', target);
    EXECUTE format(
        'CREATE POLICY tenant_isolation ON %s FOR ALL'
        ' USING (user_id = app_current_user_id())'
        ' WITH CHECK (user_id = app_current_user_id())',
        target
    );
END
$$;

REVOKE EXECUTE ON FUNCTION enable_tenant_rls(regclass) FROM PUBLIC;
