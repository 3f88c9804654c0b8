-- Xinmiao: the replication role and the standby's replication slot. Run ONCE on the PRIMARY, as a superuser:
--   psql "$PGADMIN_URL" -v ON_ERROR_STOP=1 -v repl_role=xinmiao_replicator -v repl_password=... \
--        -v slot=xinmiao_standby -f deploy/postgresql/replication.sql
-- then build the standby with pg_basebackup -R -S xinmiao_standby (deploy/postgresql/replica-standby.conf).
-- One slot per standby; a slot nobody consumes keeps WAL (up to max_slot_wal_keep_size): drop the slot of a
-- standby you retire:  SELECT pg_drop_replication_slot('xinmiao_standby');
\set ON_ERROR_STOP on

SELECT format('CREATE ROLE %I LOGIN REPLICATION PASSWORD %L NOSUPERUSER NOCREATEDB NOCREATEROLE', :'repl_role',
              :'repl_password')
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'repl_role') \gexec

SELECT pg_create_physical_replication_slot(:'slot', true)
 WHERE NOT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = :'slot');

-- The app's role reads the standby's lag (pg_stat_wal_receiver's status is shown to privileged roles only;
-- without it the app measures the lag as the age of the last replayed transaction, which is more cautious).
-- Granted on the primary, it replicates to the standby:  GRANT pg_read_all_stats TO xinmiao_app;
