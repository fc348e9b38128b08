-- GANNs with friends: everything the coordinator and the workers share.
--
-- The coordinator runs this file at every start, so every statement is
-- re-runnable. Read it with psql: every bit of the run's state is in here.
--
--   run            one row: what is being trained and how far it has got
--   weights        the published model, one row per version (only the newest few are kept)
--   work_units     slices of the dataset waiting to be, being, or already computed
--   changes        uploaded changes of weights waiting for the coordinator's next step
--   contributions  the ledger: which unit went into which step, and who computed it
--   steps          one row of losses per optimiser step
--   workers        who takes part: each worker's machine and its latest speed
--   leaderboard    a view: what everyone may see of the workers, bounded, whatever they wrote
--   schema_version one row: which version of this file made the tables
--   coordinator_lock  no rows: the running coordinator holds it locked
--
-- At the end: the ganns_worker role, and what its members (the students) may do.


-- ---------------------------------------------------------------------------
-- The version of these tables
-- ---------------------------------------------------------------------------

-- CREATE TABLE IF NOT EXISTS leaves a table from an older version of this file
-- as it was, so both scripts compare this number with ganns.SCHEMA_VERSION
-- when they connect and refuse a database made by other code. Change both together.
CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);
COMMENT ON TABLE schema_version IS 'One row: the version of schema.sql that made these tables.';
DELETE FROM schema_version;
INSERT INTO schema_version VALUES (8);


-- ---------------------------------------------------------------------------
-- The run
-- ---------------------------------------------------------------------------

CREATE TABLE IF NOT EXISTS run (
    id          BIGINT PRIMARY KEY,        -- random, new for every run: workers notice a --reset by it
    config      JSONB NOT NULL,            -- model size, dataset name and size, unit size, seed
    version     INTEGER NOT NULL,          -- newest published weights version = optimiser steps taken
    status      TEXT NOT NULL CHECK (status IN ('training', 'finished')),
                -- 'training': created by the coordinator; workers claim units
                -- 'training' -> 'finished': the coordinator reached --epochs or --steps; workers exit
    started_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- How far the coordinator was last told to go, so that `coordinator.py --status`
    -- can show an ETA from any machine. Not part of config: these may change between restarts.
    target_epochs INTEGER NOT NULL DEFAULT 0,
    target_steps  INTEGER NOT NULL DEFAULT 0, -- 0: no step limit
    -- Results computed on weights more than this many versions old are dropped: a worker
    -- whose results keep arriving later than that says so and stops.
    max_staleness INTEGER NOT NULL DEFAULT 64,  -- (the coordinator sets it at every start: --max-staleness)
    -- The most bytes one change of this run's model can take (ganns.max_change_bytes): check_change_size refuses more.
    max_change_bytes BIGINT NOT NULL
);
COMMENT ON TABLE run IS 'The training run: a single row.';
-- One row at most: a unique index on a constant.
CREATE UNIQUE INDEX IF NOT EXISTS run_single_row ON run ((true));


-- ---------------------------------------------------------------------------
-- Weights
-- ---------------------------------------------------------------------------

CREATE TABLE IF NOT EXISTS weights (
    version     INTEGER PRIMARY KEY,       -- a version is published once: no repeats
    weights     BYTEA NOT NULL,            -- torch.save({'generator': ..., 'discriminator': ...} state_dicts)
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
COMMENT ON TABLE weights IS 'Published model versions; the coordinator keeps only the newest few.';
-- Float noise does not compress: store blobs as they are instead of trying.
ALTER TABLE weights ALTER COLUMN weights SET STORAGE EXTERNAL;


-- ---------------------------------------------------------------------------
-- The queue
-- ---------------------------------------------------------------------------

-- A new number for every claim: the lease's fencing token. A worker that lost
-- its lease still holds the old number, and every write it makes checks it.
CREATE SEQUENCE IF NOT EXISTS lease_numbers;

CREATE TABLE IF NOT EXISTS work_units (
    id             BIGSERIAL PRIMARY KEY,  -- never reused, not even after --reset
    epoch          INTEGER NOT NULL,
    position       INTEGER NOT NULL,       -- the unit's place in its epoch
    indices        INTEGER[] NOT NULL,     -- the images: a slice of the epoch's seeded shuffle
    noise_seed     BIGINT NOT NULL,        -- the generator's noise: the same wherever the unit is computed
    status         TEXT NOT NULL DEFAULT 'pending'
                   CHECK (status IN ('pending', 'claimed', 'computed', 'done')),
                   -- 'pending':  created with its epoch, waiting for a worker
                   -- pending  -> claimed:  a worker claims it (claim_unit, at the end)
                   -- claimed  -> pending:  its worker gives it back (Ctrl-C), or the lease expires
                   -- claimed  -> computed: the lease holder uploads its change
                   -- computed -> pending:  its change was too stale to use, or failed the checks
                   -- computed -> done:     its change went into a step (see contributions)
    worker         TEXT CHECK (length(worker) <= 64),  -- who holds it or computed it
    login          TEXT,                   -- the database login that claimed it last (see the end of this file)
    claimed_version INTEGER,               -- the run's version when it was claimed last (set by a trigger, below)
    lease          BIGINT,                 -- fencing token of the current claim
    lease_expires  TIMESTAMPTZ,            -- the worker pushes this forward while it computes
    slot           INTEGER,                -- which of its login's few claims this is (claim_unit, at the end)
    UNIQUE (epoch, position),
    CHECK (status <> 'claimed' OR lease_expires IS NOT NULL)  -- a claim always runs out
);
COMMENT ON TABLE work_units IS 'Slices of the dataset; each epoch is a seeded shuffle cut into units.';
-- The claim looks only at pending units, in order: keep that lookup small.
CREATE INDEX IF NOT EXISTS work_units_pending ON work_units (id) WHERE status = 'pending';
CREATE INDEX IF NOT EXISTS work_units_claimed ON work_units (lease_expires) WHERE status = 'claimed';
-- A login holds each slot once: two sessions of one login claiming at the same moment cannot both take the last one.
CREATE UNIQUE INDEX IF NOT EXISTS work_units_slots ON work_units (login, slot) WHERE status = 'claimed';

CREATE TABLE IF NOT EXISTS changes (
    id           BIGSERIAL PRIMARY KEY,    -- arrival order: the coordinator takes the oldest first
    unit_id      BIGINT NOT NULL UNIQUE REFERENCES work_units (id),
    version      INTEGER NOT NULL,         -- the weights version it was computed on
    worker       TEXT NOT NULL,
    login        TEXT NOT NULL DEFAULT session_user,  -- the database login that uploaded it
    images       INTEGER NOT NULL,         -- its weight in the average
    blob         BYTEA NOT NULL,           -- torch.save({'change': ..., 'buffers': ..., 'metrics': ...})
    uploaded_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
COMMENT ON TABLE changes IS 'Uploaded changes; deleted once a step has used them or found them stale.';
ALTER TABLE changes ALTER COLUMN blob SET STORAGE EXTERNAL;

-- Where a worker's COPY puts a change: a view with nothing in it, whose
-- trigger (upload_change, at the end) stores each row in changes.
CREATE OR REPLACE VIEW change_uploads AS
    SELECT NULL::BIGINT AS unit_id, NULL::BIGINT AS lease, NULL::INTEGER AS version, NULL::TEXT AS worker,
           NULL::BYTEA AS blob
    WHERE false;
COMMENT ON VIEW change_uploads IS 'Workers COPY their changes in here (ganns.COPY_CHANGE); always empty.';

CREATE TABLE IF NOT EXISTS contributions (
    unit_id   BIGINT PRIMARY KEY REFERENCES work_units (id),  -- a unit contributes to one step at most
    step      INTEGER NOT NULL,
    version   INTEGER NOT NULL,            -- the weights version its change was computed on
    worker    TEXT NOT NULL,
    images    INTEGER NOT NULL,
    norm      REAL NOT NULL                -- its length as sent (ganns.change_limit takes the recent median)
);
COMMENT ON TABLE contributions IS 'Which unit went into which step, computed by whom: the leaderboard''s source.';
CREATE INDEX IF NOT EXISTS contributions_step ON contributions (step);

CREATE TABLE IF NOT EXISTS steps (
    step         INTEGER PRIMARY KEY,      -- = the weights version the step published
    epoch        INTEGER NOT NULL,
    images       BIGINT NOT NULL,          -- images seen by the run so far
    loss_d       REAL NOT NULL,
    loss_g       REAL NOT NULL,
    d_real       REAL NOT NULL,            -- D(x): mean probability D gave real images
    d_fake       REAL NOT NULL,            -- D(G(z)): mean probability D gave fakes
    workers      INTEGER NOT NULL,         -- distinct workers whose changes went in
    finished_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
COMMENT ON TABLE steps IS 'One row per optimiser step: the training curves.';


-- ---------------------------------------------------------------------------
-- Who takes part
-- ---------------------------------------------------------------------------

CREATE TABLE IF NOT EXISTS workers (
    name           TEXT PRIMARY KEY,       -- --name: the name on the leaderboard
    login          TEXT NOT NULL DEFAULT session_user,  -- the database login it connects as
    host           TEXT NOT NULL,
    machine        TEXT NOT NULL,          -- its device in a few words, e.g. 'cpu, 8 cores, torch 2.4.1'
    images_per_s   REAL,                   -- its latest unit's speed, computing and uploading
    units_refused  INTEGER NOT NULL DEFAULT 0,  -- changes that failed the coordinator's checks
    started_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_seen      TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- A name fits the leaderboard, and a machine's description a line: everyone's page and --status show them.
    CONSTRAINT short_descriptions CHECK (length(name) BETWEEN 1 AND 64 AND length(host || machine) <= 1000)
);
COMMENT ON TABLE workers IS 'One row per worker name, written by the worker at start and after every unit.';

-- What coordinator.py (its live page, --status) and export.py show of the
-- workers, students included. Each worker wrote its row itself, so nothing in
-- it is taken as it is: text is cut short, a speed out of its range is NULL
-- ("unknown" on the page), the time last seen lies within the last year, not in
-- the future, and only the first 200 rows are shown (`total` says how many there are).
-- It runs as this file's owner, so it shows every row; it shows no login and no host.
-- A worker is 'active' while it holds a unit whose lease is alive (it pushes the
-- lease forward every 15 s while it computes) or was seen in the last minute;
-- 'gone' once not seen for 10 minutes (a closed laptop, an ended Colab session);
-- 'idle' in between: it stopped a moment ago, or it waits for work, writing nothing.
CREATE OR REPLACE VIEW leaderboard AS
WITH seen AS (SELECT *, least(greatest(last_seen, now() - interval '1 year'), now()) AS seen_at FROM workers),
     live AS (SELECT DISTINCT worker FROM work_units WHERE status = 'claimed' AND lease_expires > now()),
     done AS (SELECT worker, count(*) AS units, sum(images)::bigint AS images FROM contributions GROUP BY worker)
SELECT left(w.name, 40) AS name,
       CASE WHEN live.worker IS NOT NULL OR w.seen_at > now() - interval '1 minute' THEN 'active'
            WHEN w.seen_at > now() - interval '10 minutes' THEN 'idle' ELSE 'gone' END AS state,
       coalesce(done.units, 0) AS units, coalesce(done.images, 0) AS images, w.units_refused,
       CASE WHEN w.images_per_s BETWEEN 0 AND 1e6 THEN w.images_per_s END AS images_per_s,  -- NaN is above any number
       left(w.machine, 60) AS machine,
       extract(epoch FROM now() - w.seen_at)::float AS seen_ago,
       count(*) OVER () AS total
FROM seen w LEFT JOIN live ON live.worker = w.name LEFT JOIN done ON done.worker = w.name
ORDER BY images DESC, name
LIMIT 200;
COMMENT ON VIEW leaderboard IS 'The workers as everyone may see them: bounded, whatever they wrote in their rows.';


-- ---------------------------------------------------------------------------
-- The coordinator's lock
--
-- Two coordinators on one run would both step it. The coordinator keeps a
-- transaction open, on a connection of its own, that holds this table locked
-- in SHARE UPDATE EXCLUSIVE mode (ganns.lock_coordinator); PostgreSQL lets go
-- of it when that connection ends, even if the coordinator was killed. Not an
-- advisory lock: any login may take any advisory lock number. Students have no
-- rights on this table, so they cannot LOCK it; the one lock they can hold on
-- it without rights (ROW EXCLUSIVE, while a PREPAREd DELETE sits in an open
-- transaction) does not conflict with this mode, which conflicts with itself.
-- (No COMMENT ON: that takes the same lock, and would wait for a running coordinator.)
-- https://www.postgresql.org/docs/current/explicit-locking.html
-- ---------------------------------------------------------------------------

CREATE TABLE IF NOT EXISTS coordinator_lock ();


-- ---------------------------------------------------------------------------
-- Who may do what
--
-- The coordinator connects as the owner of these tables (it ran this file),
-- so nothing below limits it: row-level security does not bind a table's
-- owner (unless the table says FORCE ROW LEVEL SECURITY, and these do not).
-- Each student logs in as a role of their own that is a member of
-- ganns_worker (README: "Run a class") and may do exactly what
-- worker.py does, and nothing else:
--   read the run, the weights, the steps' losses and the leaderboard;
--   claim a pending unit (through claim_unit: a few at a time), extend or give back a unit it holds;
--   upload one change for a unit it holds, under a worker name of its own;
--   add and update its own rows in workers (not their refusal count).
-- So it cannot change the weights or the run, touch another login's units,
-- changes or worker rows, lock a unit it does not hold, or delete anything.
--
-- "Its own" is decided by session_user, the login itself. Not current_user:
-- any student may SET ROLE ganns_worker, and then all would be the same user.
-- ---------------------------------------------------------------------------

-- Roles belong to the whole server, not to one database: create it only once.
DO $$ BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'ganns_worker') THEN
        CREATE ROLE ganns_worker NOLOGIN;
    END IF;
END $$;

-- Revoke everything first, so that the grants below are the whole list on every run.
REVOKE ALL ON run, weights, work_units, changes, change_uploads, contributions, steps, workers, schema_version,
              leaderboard, coordinator_lock
    FROM ganns_worker;
REVOKE ALL ON SEQUENCE lease_numbers, work_units_id_seq, changes_id_seq FROM ganns_worker;
GRANT SELECT ON run, schema_version, steps, leaderboard TO ganns_worker;  -- steps: the curves, for --status
GRANT SELECT (version, weights) ON weights TO ganns_worker;
GRANT SELECT, UPDATE (status, worker, lease, lease_expires) ON work_units TO ganns_worker;
GRANT USAGE ON SEQUENCE changes_id_seq TO ganns_worker;  -- nextval() for change ids
GRANT SELECT (id, unit_id, worker, login), INSERT (unit_id, version, worker, images, blob) ON changes TO ganns_worker;
GRANT INSERT ON change_uploads TO ganns_worker;
GRANT SELECT, INSERT (name, host, machine), UPDATE (host, machine, images_per_s, last_seen) ON workers TO ganns_worker;

-- Which rows. A table with row-level security shows a non-owner no row at all
-- unless a policy lets it through.
ALTER TABLE work_units ENABLE ROW LEVEL SECURITY;
ALTER TABLE changes ENABLE ROW LEVEL SECURITY;
ALTER TABLE workers ENABLE ROW LEVEL SECURITY;

-- Units: pending ones (to see the queue) and its own.
DROP POLICY IF EXISTS worker_reads ON work_units;
CREATE POLICY worker_reads ON work_units FOR SELECT TO ganns_worker
    USING (status = 'pending' OR login = session_user);
-- The moves of EXTEND_LEASE, GIVE_BACK_UNIT and upload_change (below): from
-- claimed by this login to a state that is this login's, never 'done'; a
-- claimed unit's lease runs out within ten minutes, so a unit is never held
-- hostage for the whole class. Not from pending: the claim is claim_unit's
-- (below), so a student cannot take or lock (SELECT ... FOR UPDATE, which
-- needs the same rights) the pending units that the others need.
DROP POLICY IF EXISTS worker_moves ON work_units;
CREATE POLICY worker_moves ON work_units FOR UPDATE TO ganns_worker
    USING (status = 'claimed' AND login = session_user)
    WITH CHECK (login = session_user AND status IN ('pending', 'claimed', 'computed')
                AND (status <> 'claimed' OR lease_expires <= now() + interval '10 minutes'));

-- Changes: for a unit this login holds (seen as it was when the upload
-- began), weighted by that unit's true number of images, under a worker name
-- this login registered, so refusals count against the right student. Its
-- weights version lies between the one when the unit was claimed and the
-- current one: a worker starts each unit on the newest weights it has, so it
-- says which; it cannot claim weights newer than exist or older than its claim.
DROP POLICY IF EXISTS worker_uploads ON changes;
CREATE POLICY worker_uploads ON changes FOR INSERT TO ganns_worker
    WITH CHECK (login = session_user
                AND worker IN (SELECT name FROM workers WHERE login = session_user)
                AND EXISTS (SELECT FROM work_units
                            WHERE id = changes.unit_id AND status = 'claimed' AND login = session_user
                                  AND cardinality(indices) = changes.images
                                  AND changes.version BETWEEN claimed_version AND (SELECT version FROM run)));
DROP POLICY IF EXISTS worker_reads ON changes;
CREATE POLICY worker_reads ON changes FOR SELECT TO ganns_worker USING (login = session_user);

-- Worker rows: its own. A name another login registered is refused.
DROP POLICY IF EXISTS worker_own_rows ON workers;
CREATE POLICY worker_own_rows ON workers TO ganns_worker
    USING (login = session_user) WITH CHECK (login = session_user);

-- A unit's claimed_version is the database's to write: noted when the unit
-- is claimed, kept as it is by every other change, whoever makes it.
CREATE OR REPLACE FUNCTION note_claimed_version() RETURNS trigger LANGUAGE plpgsql
SET search_path = public, pg_temp AS $$
BEGIN
    IF NEW.status = 'claimed' AND OLD.status <> 'claimed' THEN
        NEW.claimed_version := (SELECT version FROM run);
    ELSE
        NEW.claimed_version := OLD.claimed_version;
    END IF;
    RETURN NEW;
END $$;
DROP TRIGGER IF EXISTS claimed_version ON work_units;
CREATE TRIGGER claimed_version BEFORE UPDATE ON work_units
    FOR EACH ROW EXECUTE FUNCTION note_claimed_version();

-- A change and its unit's move to 'computed' come together, in the one
-- statement of upload_change (below). A hand-made INSERT or UPDATE doing only one
-- half would leave a unit computed with no change (lost from its epoch) or
-- a change blocking that unit's next upload. AFTER triggers run at the end
-- of the statement, when both halves are visible. The fixed search_path puts
-- pg_temp last, so a student's temporary table cannot stand in for ours.
CREATE OR REPLACE FUNCTION check_upload() RETURNS trigger LANGUAGE plpgsql
SET search_path = public, pg_temp AS $$
DECLARE
    unit BIGINT;
BEGIN
    IF TG_TABLE_NAME = 'changes' THEN unit := NEW.unit_id; ELSE unit := NEW.id; END IF;
    IF NOT EXISTS (SELECT FROM work_units JOIN changes ON unit_id = work_units.id
                   WHERE work_units.id = unit AND status = 'computed') THEN
        RAISE EXCEPTION 'unit %: a change and its unit''s ''computed'' come together (upload_change)', unit
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NULL;
END $$;
DROP TRIGGER IF EXISTS check_upload ON changes;
CREATE TRIGGER check_upload AFTER INSERT ON changes
    FOR EACH ROW EXECUTE FUNCTION check_upload();
DROP TRIGGER IF EXISTS check_upload ON work_units;
CREATE TRIGGER check_upload AFTER UPDATE OF status ON work_units
    FOR EACH ROW WHEN (NEW.status = 'computed' AND OLD.status <> 'computed') EXECUTE FUNCTION check_upload();

-- A change is no larger than a change of the run's model can be (run.max_change_bytes),
-- whatever path it took. BEFORE the row is written: a refused blob of hundreds of MB
-- leaves nothing in the table or its write-ahead log.
CREATE OR REPLACE FUNCTION check_change_size() RETURNS trigger LANGUAGE plpgsql
SET search_path = public, pg_temp AS $$
BEGIN
    IF octet_length(NEW.blob) > (SELECT max_change_bytes FROM run) THEN
        RAISE EXCEPTION 'a blob of % bytes, more than a change of this run''s model can be (% bytes)',
            octet_length(NEW.blob), (SELECT max_change_bytes FROM run) USING ERRCODE = 'program_limit_exceeded';
    END IF;
    RETURN NEW;
END $$;
DROP TRIGGER IF EXISTS check_change_size ON changes;
CREATE TRIGGER check_change_size BEFORE INSERT ON changes
    FOR EACH ROW EXECUTE FUNCTION check_change_size();

-- The upload, for each row COPY puts into change_uploads. COPY is how every
-- blob travels (in binary: psycopg2 would send it as hex, twice its size),
-- but PostgreSQL refuses COPY into a table with row-level security, so the
-- worker copies into the view and this trigger stores the row. It runs as the
-- worker (not SECURITY DEFINER): every grant and policy above still applies.
-- Fenced: only the holder of the unit's current lease gets a row in. The
-- unit's move and the change are one statement (see check_upload). A
-- lost lease stores nothing (an INSERT counts no row; COPY counts it anyway,
-- so ganns.upload_change looks at the unit after).
CREATE OR REPLACE FUNCTION upload_change() RETURNS trigger LANGUAGE plpgsql
SET search_path = public, pg_temp AS $$
BEGIN
    WITH finished AS (
        UPDATE work_units SET status = 'computed', lease_expires = NULL
        WHERE id = NEW.unit_id AND lease = NEW.lease AND status = 'claimed'
        RETURNING id, cardinality(indices) AS images)
    INSERT INTO changes (unit_id, version, worker, images, blob)
    SELECT id, NEW.version, NEW.worker, images, NEW.blob FROM finished;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    RETURN NEW;
END $$;
DROP TRIGGER IF EXISTS upload_change ON change_uploads;
CREATE TRIGGER upload_change INSTEAD OF INSERT ON change_uploads
    FOR EACH ROW EXECUTE FUNCTION upload_change();

-- The claim: the next pending unit, for this login, for lease_seconds (ten
-- minutes at most). SKIP LOCKED makes concurrent workers step over a row
-- another worker is claiming at this moment instead of queueing behind its
-- lock, so two workers never get the same unit and never wait for each other.
-- The new lease number is the fencing token every later write must show.
--
-- A student's login holds 4 claimed units at most: two workers' worth (a
-- worker computes one unit and has claimed the next), so one student may run
-- a laptop and a Colab on one login, or restart a killed worker before its
-- old leases run out. A login holding 4 gets no unit, as if there were none.
-- Each claim takes a free slot, 1 to 4, and the unique index work_units_slots
-- refuses a slot taken twice: that holds even for claims made at the same
-- moment in several sessions, which a count could not see.
--
-- SECURITY DEFINER: it runs with the rights of this file's owner (the
-- coordinator), which students lack on pending units. session_user stays the
-- student; current_user is the owner, so session_user = current_user only for
-- the coordinator's own login, whose workers (--local-workers) have no limit.
CREATE OR REPLACE FUNCTION claim_unit(worker_name TEXT, lease_seconds DOUBLE PRECISION)
RETURNS SETOF work_units LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    free_slot INTEGER;
BEGIN
    IF session_user <> current_user THEN
        free_slot := (SELECT min(s) FROM generate_series(1, 4) s
                      WHERE s NOT IN (SELECT slot FROM work_units
                                      WHERE login = session_user AND status = 'claimed' AND slot IS NOT NULL));
        IF free_slot IS NULL THEN
            RETURN;
        END IF;
    END IF;
    RETURN QUERY
        UPDATE work_units
        SET status = 'claimed', worker = worker_name, login = session_user, slot = free_slot,
            lease = nextval('lease_numbers'), lease_expires = now() + make_interval(secs => least(lease_seconds, 600))
        WHERE id = (SELECT id FROM work_units WHERE status = 'pending' ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)
        RETURNING *;  -- (a trigger, above, notes the run's version in claimed_version)
EXCEPTION WHEN unique_violation THEN  -- another session of this login took that slot a moment ago
    RETURN;
END $$;
REVOKE ALL ON FUNCTION claim_unit FROM PUBLIC;
GRANT EXECUTE ON FUNCTION claim_unit TO ganns_worker;
