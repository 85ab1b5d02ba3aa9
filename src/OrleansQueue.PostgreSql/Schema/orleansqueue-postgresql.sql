-- OrleansQueue's PostgreSQL schema (PostgreSQL 13 or later). Idempotent: run it on every deployment; it creates what
-- is missing and replaces the functions and named queries with this version's. Give OrleansQueue a database (or a
-- schema first on the connection's search_path) of its own: the table orleansquery is read by Orleans' ADO.NET
-- providers by that name.
--
-- 1. orleansqueue_grain_state: the queue, dead-letter and registry records (one row per grain and state name).
-- 2. Cluster membership and reminders for Microsoft.Orleans.Clustering.AdoNet / Reminders.AdoNet (Invariant "Npgsql"):
--    their tables, two functions that make a membership change atomic, and the named queries in orleansquery.

SELECT pg_advisory_xact_lock(7314159265);  -- one set-up at a time (silos starting together)

CREATE TABLE IF NOT EXISTS orleansqueue_grain_state (
    service_id  text        NOT NULL,
    grain_id    text        NOT NULL,
    state_name  text        NOT NULL,
    version     bigint      NOT NULL,  -- the record's ETag: 1 when written first, one higher on every write
    payload     bytea       NOT NULL,
    written_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (service_id, grain_id, state_name)
);
-- Records up to about 8 KB stay in the row (PostgreSQL moves a row's large values out to its TOAST table from 2 KB
-- by default, which costs a TOAST write and index entry per 2 KB chunk on every rewrite of a small chunk record).
ALTER TABLE orleansqueue_grain_state SET (toast_tuple_target = 8160);

CREATE TABLE IF NOT EXISTS orleansqueue_membership_version (
    deploymentid text        PRIMARY KEY,
    changed_at   timestamptz NOT NULL DEFAULT now(),
    version      integer     NOT NULL DEFAULT 0
);

CREATE TABLE IF NOT EXISTS orleansqueue_membership (
    deploymentid text        NOT NULL REFERENCES orleansqueue_membership_version (deploymentid) ON DELETE CASCADE,
    address      text        NOT NULL,
    port         integer     NOT NULL,
    generation   integer     NOT NULL,
    siloname     text        NOT NULL,
    hostname     text        NOT NULL,
    status       integer     NOT NULL,
    proxyport    integer     NOT NULL DEFAULT 0,
    suspecttimes text,
    starttime    timestamptz NOT NULL,
    iamalivetime timestamptz NOT NULL,
    PRIMARY KEY (deploymentid, address, port, generation)
);

CREATE TABLE IF NOT EXISTS orleansqueue_reminders (
    serviceid    text        NOT NULL,
    grainid      text        NOT NULL,
    remindername text        NOT NULL,
    starttime    timestamptz NOT NULL,
    period       bigint      NOT NULL,  -- milliseconds
    grainhash    integer     NOT NULL,  -- the grain's uint hash as a signed int (ranges are compared signed)
    version      integer     NOT NULL,
    PRIMARY KEY (serviceid, grainid, remindername)
);
CREATE INDEX IF NOT EXISTS orleansqueue_reminders_hash ON orleansqueue_reminders (serviceid, grainhash);

CREATE TABLE IF NOT EXISTS orleansquery (
    querykey  text PRIMARY KEY,
    querytext text NOT NULL
);

-- A silo joins: the table version must be the one the silo read (p_version), and the silo must not be in the table
-- yet. Both or nothing: a duplicate row rolls the version change back.
CREATE OR REPLACE FUNCTION orleansqueue_insert_member(
    p_deploymentid text, p_iamalivetime timestamptz, p_siloname text, p_hostname text, p_address text,
    p_port integer, p_generation integer, p_starttime timestamptz, p_status integer, p_proxyport integer,
    p_version integer) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
    BEGIN
        UPDATE orleansqueue_membership_version SET version = version + 1, changed_at = now()
         WHERE deploymentid = p_deploymentid AND version = p_version;
        IF NOT FOUND THEN
            RETURN false;
        END IF;
        INSERT INTO orleansqueue_membership (deploymentid, address, port, generation, siloname, hostname, status,
                                             proxyport, suspecttimes, starttime, iamalivetime)
        VALUES (p_deploymentid, p_address, p_port, p_generation, p_siloname, p_hostname, p_status,
                coalesce(p_proxyport, 0), NULL, p_starttime, p_iamalivetime);
        RETURN true;
    EXCEPTION WHEN unique_violation THEN
        RETURN false;  -- the block's changes, the version included, are rolled back
    END;
END $$;

-- A silo's status or suspicions change: the table version must be the one read, and the silo must be in the table.
CREATE OR REPLACE FUNCTION orleansqueue_update_member(
    p_deploymentid text, p_address text, p_port integer, p_generation integer, p_iamalivetime timestamptz,
    p_status integer, p_suspecttimes text, p_version integer) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
    BEGIN
        UPDATE orleansqueue_membership_version SET version = version + 1, changed_at = now()
         WHERE deploymentid = p_deploymentid AND version = p_version;
        IF NOT FOUND THEN
            RETURN false;
        END IF;
        UPDATE orleansqueue_membership
           SET status = p_status, suspecttimes = p_suspecttimes, iamalivetime = p_iamalivetime
         WHERE deploymentid = p_deploymentid AND address = p_address AND port = p_port AND generation = p_generation;
        IF NOT FOUND THEN
            RAISE EXCEPTION USING ERRCODE = 'no_data_found';
        END IF;
        RETURN true;
    EXCEPTION WHEN no_data_found THEN
        RETURN false;  -- no such silo: the version change is rolled back
    END;
END $$;

-- The named queries. Parameters are the providers' (@DeploymentId, @Address, ...); result columns are matched by
-- name, case-insensitively, so the aliases below give Orleans' names.
INSERT INTO orleansquery (querykey, querytext) VALUES
('InsertMembershipVersionKey', $q$
WITH added AS (
    INSERT INTO orleansqueue_membership_version (deploymentid) VALUES (@DeploymentId)
    ON CONFLICT (deploymentid) DO NOTHING
    RETURNING 1)
SELECT EXISTS (SELECT 1 FROM added)
$q$),
('MembershipReadAllKey', $q$
SELECT v.version AS Version, m.deploymentid AS DeploymentId, m.address AS Address, m.port AS Port,
       m.generation AS Generation, m.siloname AS SiloName, m.hostname AS HostName, m.status AS Status,
       m.proxyport AS ProxyPort, m.suspecttimes AS SuspectTimes, m.starttime AS StartTime,
       m.iamalivetime AS IAmAliveTime
  FROM orleansqueue_membership_version v
  LEFT JOIN orleansqueue_membership m ON m.deploymentid = v.deploymentid
 WHERE v.deploymentid = @DeploymentId
$q$),
('MembershipReadRowKey', $q$
SELECT v.version AS Version, m.deploymentid AS DeploymentId, m.address AS Address, m.port AS Port,
       m.generation AS Generation, m.siloname AS SiloName, m.hostname AS HostName, m.status AS Status,
       m.proxyport AS ProxyPort, m.suspecttimes AS SuspectTimes, m.starttime AS StartTime,
       m.iamalivetime AS IAmAliveTime
  FROM orleansqueue_membership_version v
  LEFT JOIN orleansqueue_membership m ON m.deploymentid = v.deploymentid
       AND m.address = @Address AND m.port = @Port AND m.generation = @Generation
 WHERE v.deploymentid = @DeploymentId
$q$),
('InsertMembershipKey', $q$
SELECT orleansqueue_insert_member(@DeploymentId, @IAmAliveTime, @SiloName, @HostName, @Address, @Port, @Generation,
                                  @StartTime, @Status, @ProxyPort, @Version)
$q$),
('UpdateMembershipKey', $q$
SELECT orleansqueue_update_member(@DeploymentId, @Address, @Port, @Generation, @IAmAliveTime, @Status,
                                  @SuspectTimes, @Version)
$q$),
('UpdateIAmAlivetimeKey', $q$
UPDATE orleansqueue_membership SET iamalivetime = @IAmAliveTime
 WHERE deploymentid = @DeploymentId AND address = @Address AND port = @Port AND generation = @Generation
$q$),
('DeleteMembershipTableEntriesKey', $q$
DELETE FROM orleansqueue_membership_version WHERE deploymentid = @DeploymentId
$q$),
('CleanupDefunctSiloEntriesKey', $q$
DELETE FROM orleansqueue_membership
 WHERE deploymentid = @DeploymentId AND status = 6 AND iamalivetime < @IAmAliveTime
$q$),
('GatewaysQueryKey', $q$
SELECT address AS Address, proxyport AS ProxyPort, generation AS Generation
  FROM orleansqueue_membership
 WHERE deploymentid = @DeploymentId AND status = @Status AND proxyport > 0
$q$),
('ReadReminderRowsKey', $q$
SELECT grainid AS GrainId, remindername AS ReminderName, starttime AS StartTime, period AS Period, version AS Version
  FROM orleansqueue_reminders
 WHERE serviceid = @ServiceId AND grainid = @GrainId
$q$),
('ReadReminderRowKey', $q$
SELECT grainid AS GrainId, remindername AS ReminderName, starttime AS StartTime, period AS Period, version AS Version
  FROM orleansqueue_reminders
 WHERE serviceid = @ServiceId AND grainid = @GrainId AND remindername = @ReminderName
$q$),
('ReadRangeRows1Key', $q$
SELECT grainid AS GrainId, remindername AS ReminderName, starttime AS StartTime, period AS Period, version AS Version
  FROM orleansqueue_reminders
 WHERE serviceid = @ServiceId AND grainhash > @BeginHash AND grainhash <= @EndHash
$q$),
('ReadRangeRows2Key', $q$
SELECT grainid AS GrainId, remindername AS ReminderName, starttime AS StartTime, period AS Period, version AS Version
  FROM orleansqueue_reminders
 WHERE serviceid = @ServiceId AND (grainhash > @BeginHash OR grainhash <= @EndHash)
$q$),
('UpsertReminderRowKey', $q$
INSERT INTO orleansqueue_reminders AS r (serviceid, grainid, remindername, starttime, period, grainhash, version)
VALUES (@ServiceId, @GrainId, @ReminderName, @StartTime, @Period, @GrainHash, 0)
ON CONFLICT (serviceid, grainid, remindername) DO UPDATE
   SET starttime = excluded.starttime, period = excluded.period, grainhash = excluded.grainhash,
       version = r.version + 1
RETURNING version AS Version
$q$),
('DeleteReminderRowKey', $q$
WITH removed AS (
    DELETE FROM orleansqueue_reminders
     WHERE serviceid = @ServiceId AND grainid = @GrainId AND remindername = @ReminderName AND version = @Version
    RETURNING 1)
SELECT EXISTS (SELECT 1 FROM removed)
$q$),
('DeleteReminderRowsKey', $q$
DELETE FROM orleansqueue_reminders WHERE serviceid = @ServiceId
$q$)
ON CONFLICT (querykey) DO UPDATE SET querytext = excluded.querytext;
