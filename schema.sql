-- GANNs with friends: everything the coordinator and the workers share.
--
-- The coordinator runs this file at every start, so every statement is
-- re-runnable. Read it with psql: every bit of the run's state is in here.
--
--   run            one row: what is being trained and how far it has got
--   weights        the published model, one row per version (only the newest few are kept)
--   work_units     slices of the dataset waiting to be, being, or already computed
--   gradients      uploaded gradients waiting for the coordinator's next step
--   contributions  the ledger: which unit went into which step, and who computed it
--   steps          one row of losses per optimiser step
--   workers        who takes part: each worker's machine and its latest speed
--   schema_version one row: which version of this file made the tables
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
INSERT INTO schema_version VALUES (5);


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
    started_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
COMMENT ON TABLE run IS 'The training run: a single row.';
-- One row at most: a unique index on a constant.
CREATE UNIQUE INDEX IF NOT EXISTS run_single_row ON run ((true));
-- How far the coordinator was last told to go, so that `coordinator.py --status`
-- can show an ETA from any machine. Not part of config: these may change between
-- restarts. ALTER, so that a database created before these columns gets them too.
ALTER TABLE run ADD COLUMN IF NOT EXISTS target_epochs INTEGER NOT NULL DEFAULT 0;
ALTER TABLE run ADD COLUMN IF NOT EXISTS target_steps INTEGER NOT NULL DEFAULT 0;  -- 0: no step limit


-- ---------------------------------------------------------------------------
-- Weights
-- ---------------------------------------------------------------------------

CREATE TABLE IF NOT EXISTS weights (
    version     INTEGER PRIMARY KEY,       -- a version is published once: no repeats
    weights     BYTEA NOT NULL,            -- torch.save({'generator': ..., 'discriminator': ...} state_dicts)
    optimizer   BYTEA,                     -- Adam's moments, every ganns.OPTIMIZER_EVERY'th version: to resume
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
COMMENT ON TABLE weights IS 'Published model versions; the coordinator keeps only the newest few.';
-- Float noise does not compress: store blobs as they are instead of trying.
ALTER TABLE weights ALTER COLUMN weights SET STORAGE EXTERNAL;
ALTER TABLE weights ALTER COLUMN optimizer SET STORAGE EXTERNAL;
ALTER TABLE weights ALTER COLUMN optimizer DROP NOT NULL;  -- (schema 2 wrote it with every version)


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
    noise_seed     BIGINT NOT NULL,        -- the generator's noise, so a unit always gives the same gradient
    status         TEXT NOT NULL DEFAULT 'pending'
                   CHECK (status IN ('pending', 'claimed', 'computed', 'done')),
                   -- 'pending':  created with its epoch, waiting for a worker
                   -- pending  -> claimed:  a worker claims it (FOR UPDATE SKIP LOCKED)
                   -- claimed  -> pending:  its worker gives it back (Ctrl-C), or the lease expires
                   -- claimed  -> computed: the lease holder uploads its gradient
                   -- computed -> pending:  its gradient was too stale to use
                   -- computed -> done:     its gradient went into a step (see contributions)
    worker         TEXT,                   -- who holds it or computed it
    login          TEXT,                   -- the database login that claimed it last (see the end of this file)
    claimed_version INTEGER,               -- the run's version when it was claimed last (set by a trigger, below)
    lease          BIGINT,                 -- fencing token of the current claim
    lease_expires  TIMESTAMPTZ,            -- the worker pushes this forward while it computes
    UNIQUE (epoch, position)
);
COMMENT ON TABLE work_units IS 'Slices of the dataset; each epoch is a seeded shuffle cut into units.';
-- The claim looks only at pending units, in order: keep that lookup small.
CREATE INDEX IF NOT EXISTS work_units_pending ON work_units (id) WHERE status = 'pending';
CREATE INDEX IF NOT EXISTS work_units_claimed ON work_units (lease_expires) WHERE status = 'claimed';

CREATE TABLE IF NOT EXISTS gradients (
    id           BIGSERIAL PRIMARY KEY,    -- arrival order: the coordinator takes the oldest first
    unit_id      BIGINT NOT NULL UNIQUE REFERENCES work_units (id),
    version      INTEGER NOT NULL,         -- the weights version it was computed on
    worker       TEXT NOT NULL,
    login        TEXT NOT NULL DEFAULT session_user,  -- the database login that uploaded it
    images       INTEGER NOT NULL,         -- its weight in the average
    blob         BYTEA NOT NULL,           -- torch.save({'grads': ..., 'buffers': ..., 'metrics': ...})
    uploaded_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
COMMENT ON TABLE gradients IS 'Uploaded gradients; deleted once a step has used them or found them stale.';
ALTER TABLE gradients ALTER COLUMN blob SET STORAGE EXTERNAL;

-- Where a worker's COPY puts a gradient: a view with nothing in it, whose
-- trigger (upload_gradient, at the end) stores each row in gradients.
CREATE OR REPLACE VIEW gradient_uploads AS
    SELECT NULL::BIGINT AS unit_id, NULL::BIGINT AS lease, NULL::INTEGER AS version, NULL::TEXT AS worker,
           NULL::BYTEA AS blob
    WHERE false;
COMMENT ON VIEW gradient_uploads IS 'Workers COPY their gradients in here (ganns.COPY_GRADIENT); always empty.';

CREATE TABLE IF NOT EXISTS contributions (
    unit_id   BIGINT PRIMARY KEY REFERENCES work_units (id),  -- a unit contributes to one step at most
    step      INTEGER NOT NULL,
    version   INTEGER NOT NULL,            -- the weights version its gradient was computed on
    worker    TEXT NOT NULL,
    images    INTEGER NOT NULL
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
    workers      INTEGER NOT NULL,         -- distinct workers whose gradients went in
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
    device         TEXT NOT NULL,          -- cpu, cuda, mps
    cpu_cores      INTEGER NOT NULL,
    ram_gb         REAL,                   -- NULL where the operating system does not say
    gpu            TEXT,                   -- NULL without a GPU
    gpu_memory_gb  REAL,
    torch_version  TEXT NOT NULL,
    images_per_s   REAL,                   -- its latest unit's speed, computing and uploading
    units_refused  INTEGER NOT NULL DEFAULT 0,  -- gradients the coordinator would not use
    started_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_seen      TIMESTAMPTZ NOT NULL DEFAULT now()
);
COMMENT ON TABLE workers IS 'One row per worker name, written by the worker at start and after every unit.';


-- ---------------------------------------------------------------------------
-- Who may do what
--
-- The coordinator connects as the owner of these tables (it ran this file),
-- so nothing below limits it: row-level security does not bind a table's
-- owner (unless the table says FORCE ROW LEVEL SECURITY, and these do not).
-- Each student logs in as a role of their own that is a member of
-- ganns_worker (README: "Running it with a class") and may do exactly what
-- worker.py does, and nothing else:
--   read the run and the weights (not Adam's state: only resuming needs it);
--   claim a pending unit, extend or give back a unit it holds;
--   upload one gradient for a unit it holds, under a worker name of its own;
--   add and update its own rows in workers (not their refusal count).
-- So it cannot change the weights or the run, touch another login's units,
-- gradients or worker rows, or delete anything.
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
REVOKE ALL ON run, weights, work_units, gradients, gradient_uploads, contributions, steps, workers, schema_version
    FROM ganns_worker;
REVOKE ALL ON SEQUENCE lease_numbers, work_units_id_seq, gradients_id_seq FROM ganns_worker;
GRANT SELECT ON run, schema_version TO ganns_worker;
GRANT SELECT (version, weights) ON weights TO ganns_worker;
GRANT SELECT, UPDATE (status, worker, lease, lease_expires, login) ON work_units TO ganns_worker;
GRANT USAGE ON SEQUENCE lease_numbers, gradients_id_seq TO ganns_worker;  -- nextval() for leases and gradient ids
GRANT SELECT (id, unit_id, worker, login), INSERT (unit_id, version, worker, images, blob) ON gradients TO ganns_worker;
GRANT INSERT ON gradient_uploads TO ganns_worker;
GRANT SELECT, INSERT (name, host, device, cpu_cores, ram_gb, gpu, gpu_memory_gb, torch_version),
      UPDATE (host, device, cpu_cores, ram_gb, gpu, gpu_memory_gb, torch_version, images_per_s, last_seen)
      ON workers TO ganns_worker;

-- Which rows. A table with row-level security shows a non-owner no row at all
-- unless a policy lets it through.
ALTER TABLE work_units ENABLE ROW LEVEL SECURITY;
ALTER TABLE gradients ENABLE ROW LEVEL SECURITY;
ALTER TABLE workers ENABLE ROW LEVEL SECURITY;

-- Units: pending ones (to claim) and its own.
DROP POLICY IF EXISTS worker_reads ON work_units;
CREATE POLICY worker_reads ON work_units FOR SELECT TO ganns_worker
    USING (status = 'pending' OR login = session_user);
-- The moves of CLAIM_UNIT, EXTEND_LEASE, GIVE_BACK_UNIT and upload_gradient (below):
-- from pending, or from claimed by this login, to a state that is this
-- login's, never 'done'; and a lease of ten minutes at most, so a unit is
-- never held hostage for the whole class.
DROP POLICY IF EXISTS worker_moves ON work_units;
CREATE POLICY worker_moves ON work_units FOR UPDATE TO ganns_worker
    USING (status = 'pending' OR (status = 'claimed' AND login = session_user))
    WITH CHECK (login = session_user AND status IN ('pending', 'claimed', 'computed')
                AND coalesce(lease_expires, now()) <= now() + interval '10 minutes');

-- Gradients: for a unit this login holds (seen as it was when the upload
-- began), weighted by that unit's true number of images, under a worker name
-- this login registered, so refusals count against the right student. Its
-- weights version lies between the one when the unit was claimed and the
-- current one: a worker starts each unit on the newest weights it has, so it
-- says which; it cannot claim weights newer than exist or older than its claim.
DROP POLICY IF EXISTS worker_uploads ON gradients;
CREATE POLICY worker_uploads ON gradients FOR INSERT TO ganns_worker
    WITH CHECK (login = session_user
                AND worker IN (SELECT name FROM workers WHERE login = session_user)
                AND EXISTS (SELECT FROM work_units
                            WHERE id = gradients.unit_id AND status = 'claimed' AND login = session_user
                                  AND cardinality(indices) = gradients.images
                                  AND gradients.version BETWEEN claimed_version AND (SELECT version FROM run)));
DROP POLICY IF EXISTS worker_reads ON gradients;
CREATE POLICY worker_reads ON gradients FOR SELECT TO ganns_worker USING (login = session_user);

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

-- A gradient and its unit's move to 'computed' come together, in the one
-- statement of upload_gradient (below). A hand-made INSERT or UPDATE doing only one
-- half would leave a unit computed with no gradient (lost from its epoch) or
-- a gradient blocking that unit's next upload. AFTER triggers run at the end
-- of the statement, when both halves are visible. The fixed search_path puts
-- pg_temp last, so a student's temporary table cannot stand in for ours.
CREATE OR REPLACE FUNCTION check_upload_is_whole() RETURNS trigger LANGUAGE plpgsql
SET search_path = public, pg_temp AS $$
DECLARE
    unit BIGINT;
BEGIN
    IF TG_TABLE_NAME = 'gradients' THEN unit := NEW.unit_id; ELSE unit := NEW.id; END IF;
    IF NOT EXISTS (SELECT FROM work_units JOIN gradients ON unit_id = work_units.id
                   WHERE work_units.id = unit AND status = 'computed') THEN
        RAISE EXCEPTION 'unit %: a gradient and its unit''s ''computed'' come together (upload_gradient)', unit
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NULL;
END $$;
DROP TRIGGER IF EXISTS upload_is_whole ON gradients;
CREATE TRIGGER upload_is_whole AFTER INSERT ON gradients
    FOR EACH ROW EXECUTE FUNCTION check_upload_is_whole();
DROP TRIGGER IF EXISTS upload_is_whole ON work_units;
CREATE TRIGGER upload_is_whole AFTER UPDATE OF status ON work_units
    FOR EACH ROW WHEN (NEW.status = 'computed' AND OLD.status <> 'computed') EXECUTE FUNCTION check_upload_is_whole();

-- The upload, for each row COPY puts into gradient_uploads. COPY is how every
-- blob travels (in binary: psycopg2 would send it as hex, twice its size),
-- but PostgreSQL refuses COPY into a table with row-level security, so the
-- worker copies into the view and this trigger stores the row. It runs as the
-- worker (not SECURITY DEFINER): every grant and policy above still applies.
-- Fenced: only the holder of the unit's current lease gets a row in. The
-- unit's move and the gradient are one statement (see upload_is_whole). A
-- lost lease stores nothing (an INSERT counts no row; COPY counts it anyway,
-- so ganns.upload_gradient looks at the unit after).
CREATE OR REPLACE FUNCTION upload_gradient() RETURNS trigger LANGUAGE plpgsql
SET search_path = public, pg_temp AS $$
BEGIN
    WITH finished AS (
        UPDATE work_units SET status = 'computed', lease_expires = NULL
        WHERE id = NEW.unit_id AND lease = NEW.lease AND status = 'claimed'
        RETURNING id, cardinality(indices) AS images)
    INSERT INTO gradients (unit_id, version, worker, images, blob)
    SELECT id, NEW.version, NEW.worker, images, NEW.blob FROM finished;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    RETURN NEW;
END $$;
DROP TRIGGER IF EXISTS upload_gradient ON gradient_uploads;
CREATE TRIGGER upload_gradient INSTEAD OF INSERT ON gradient_uploads
    FOR EACH ROW EXECUTE FUNCTION upload_gradient();
