-- Read-only access for analysts, applied by WarehouseSchema after the tables (pipeline/warehouse/grants.py).
-- {{role}} is [warehouse] analyst_role (music_etl_analyst by default; none: no grants), {{schema}} the
-- schema the pipeline loads into. Analysts are login users made members of the role by an administrator
-- (SETUP.md); the role itself cannot log in. DuckDB has no roles: nothing here runs there.
--
-- Every table and the view, read only; tables and views the pipeline creates later are covered by the
-- default privileges of the user that creates them (the pipeline's own), so a new table or the view
-- recreated by FinalizeWarehouse needs no new grant. Loads commit a partition in one transaction, so an
-- analyst sees a partition's previous rows or its new ones, never half of a load.

{{postgresql: DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{{role}}') THEN CREATE ROLE {{role}} NOLOGIN; END IF; END $$;}}
{{redshift: CREATE ROLE {{role}};}}
GRANT USAGE ON SCHEMA {{schema}} TO {{grantee}};
GRANT SELECT ON ALL TABLES IN SCHEMA {{schema}} TO {{grantee}};
ALTER DEFAULT PRIVILEGES IN SCHEMA {{schema}} GRANT SELECT ON TABLES TO {{grantee}};
