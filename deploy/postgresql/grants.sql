-- The app role's privileges on the tables as they are now. Run after EVERY `flask db upgrade` (as the owner role,
-- which owns the tables), e.g.:
--   psql "$OWNER_DATABASE_URL" -v ON_ERROR_STOP=1 -v app_role=xinmiao_app -f deploy/postgresql/grants.sql
-- Idempotent. Rows only: the app role owns nothing (no ALTER, DROP, DISABLE TRIGGER); the audit chain is
-- append-only for it (SELECT, INSERT, and UPDATE of the three link columns only, which the scheduler's linker
-- sets once per event; the triggers refuse any other update), and the migration bookkeeping is read-only
-- (flask doctor reads it).
\set ON_ERROR_STOP on

SELECT format('GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO %I', :'app_role') \gexec
SELECT format('GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO %I', :'app_role') \gexec
SELECT format('REVOKE UPDATE, DELETE, TRUNCATE ON %I FROM %I', c.relname, :'app_role')
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = 'public' AND c.relkind = 'r' AND c.relname IN ('audit_events', 'alembic_version') \gexec
SELECT format('GRANT UPDATE (chain_seq, prev_hash, hash) ON audit_events TO %I', :'app_role')
 WHERE EXISTS (SELECT 1 FROM information_schema.columns
                WHERE table_schema = 'public' AND table_name = 'audit_events' AND column_name = 'chain_seq') \gexec
SELECT format('REVOKE INSERT ON alembic_version FROM %I', :'app_role')
 WHERE to_regclass('public.alembic_version') IS NOT NULL \gexec
