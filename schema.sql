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
    optimizer   BYTEA NOT NULL,            -- Adam's moments: only the coordinator reads them, to resume
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
COMMENT ON TABLE weights IS 'Published model versions; the coordinator keeps only the newest few.';
-- Float noise does not compress: store blobs as they are instead of trying.
ALTER TABLE weights ALTER COLUMN weights SET STORAGE EXTERNAL;
ALTER TABLE weights ALTER COLUMN optimizer SET STORAGE EXTERNAL;


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
    images       INTEGER NOT NULL,         -- its weight in the average
    blob         BYTEA NOT NULL,           -- torch.save({'grads': ..., 'buffers': ..., 'metrics': ...})
    uploaded_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
COMMENT ON TABLE gradients IS 'Uploaded gradients; deleted once a step has used them or found them stale.';
ALTER TABLE gradients ALTER COLUMN blob SET STORAGE EXTERNAL;

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
    login          TEXT NOT NULL DEFAULT current_user,  -- the database role it connects as
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
