-- Xinmiao's PostgreSQL roles and database. Run ONCE, as a superuser, before the first migration:
--   psql "$PGADMIN_URL" -v ON_ERROR_STOP=1 -v dbname=xinmiao -v owner_role=xinmiao_owner -v app_role=xinmiao_app \
--        -v owner_password=... -v app_password=... -f deploy/postgresql/roles.sql
-- The OWNER role owns the schema and every table: it runs `flask db upgrade` and nothing else.
-- The APP role (the web workers and the scheduler) only reads and writes rows: it owns nothing, so it cannot
-- ALTER or DROP a table, cannot DISABLE TRIGGER (the audit chain's append-only triggers), and it gets no UPDATE,
-- DELETE or TRUNCATE on the audit tables (deploy/postgresql/grants.sql, run after every migration).
\set ON_ERROR_STOP on

SELECT format('CREATE ROLE %I LOGIN PASSWORD %L', :'owner_role', :'owner_password')
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'owner_role') \gexec
SELECT format('CREATE ROLE %I LOGIN PASSWORD %L NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS', :'app_role',
              :'app_password')
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'app_role') \gexec
SELECT format('CREATE DATABASE %I OWNER %I ENCODING %L TEMPLATE template0', :'dbname', :'owner_role', 'UTF8')
 WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = :'dbname') \gexec

SELECT format('REVOKE ALL ON DATABASE %I FROM PUBLIC', :'dbname') \gexec
SELECT format('GRANT CONNECT, TEMPORARY ON DATABASE %I TO %I', :'dbname', :'app_role') \gexec

\connect :dbname
-- The owner owns the schema; nobody else may create objects in it.
SELECT format('ALTER SCHEMA public OWNER TO %I', :'owner_role') \gexec
REVOKE ALL ON SCHEMA public FROM PUBLIC;
SELECT format('GRANT USAGE ON SCHEMA public TO %I', :'app_role') \gexec
-- Tables the owner creates later are readable and writable by the app (grants.sql then takes the audit tables'
-- UPDATE/DELETE back).
SELECT format('ALTER DEFAULT PRIVILEGES FOR ROLE %I IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO %I',
              :'owner_role', :'app_role') \gexec
SELECT format('ALTER DEFAULT PRIVILEGES FOR ROLE %I IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO %I',
              :'owner_role', :'app_role') \gexec
