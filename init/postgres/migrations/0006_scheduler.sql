-- Task scheduling (seed §1): job definitions (cron or on demand) and their runs. Workers take due
-- runs with `SELECT ... FROM scheduler.job_runs WHERE status IN ('queued', 'retrying') AND
-- scheduled_at <= now() ORDER BY scheduled_at FOR UPDATE SKIP LOCKED LIMIT n`, which the partial
-- index below serves.
CREATE SCHEMA scheduler;
COMMENT ON SCHEMA scheduler IS 'Scheduled jobs and their runs.';

CREATE TABLE scheduler.jobs (
  id                    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name                  text NOT NULL UNIQUE CHECK (name ~ '^[a-z0-9][a-z0-9._-]{0,127}$'),
  description           text,
  -- What the worker does (`model_training`, `data_ingestion`, `index_rebuild`, ...).
  job_type              text NOT NULL,
  -- Cron expression in UTC; NULL: runs only on demand.
  schedule              text,
  payload               jsonb NOT NULL DEFAULT '{}'::jsonb,
  enabled               boolean NOT NULL DEFAULT true,
  max_retries           integer NOT NULL DEFAULT 3 CHECK (max_retries BETWEEN 0 AND 100),
  retry_backoff_seconds integer NOT NULL DEFAULT 60 CHECK (retry_backoff_seconds >= 0),
  timeout_seconds       integer CHECK (timeout_seconds > 0),
  next_run_at           timestamptz,
  owner_id              bigint REFERENCES iam.users (id) ON DELETE SET NULL,
  created_at            timestamptz NOT NULL DEFAULT now(),
  updated_at            timestamptz NOT NULL DEFAULT now()
);
-- The scheduler's tick: enabled jobs that are due.
CREATE INDEX jobs_next_run_at_idx ON scheduler.jobs (next_run_at) WHERE enabled AND next_run_at IS NOT NULL;
CREATE INDEX jobs_job_type_idx ON scheduler.jobs (job_type);
CREATE INDEX jobs_owner_id_idx ON scheduler.jobs (owner_id) WHERE owner_id IS NOT NULL;
CREATE TRIGGER jobs_touch_updated_at BEFORE UPDATE ON scheduler.jobs
  FOR EACH ROW EXECUTE FUNCTION platform.touch_updated_at();

CREATE TABLE scheduler.job_runs (
  id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  job_id       bigint NOT NULL REFERENCES scheduler.jobs (id) ON DELETE CASCADE,
  status       text NOT NULL DEFAULT 'queued'
               CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'retrying', 'cancelled', 'timed_out')),
  -- 1 for the first try; a retry is a new attempt of the same run.
  attempt      integer NOT NULL DEFAULT 1 CHECK (attempt >= 1),
  scheduled_at timestamptz NOT NULL DEFAULT now(),
  started_at   timestamptz,
  finished_at  timestamptz,
  -- Worker holding the run (pod name) and when it last reported, to find runs of dead workers.
  worker       text,
  heartbeat_at timestamptz,
  result       jsonb,
  error        text,
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now(),
  CHECK (finished_at IS NULL OR started_at IS NULL OR finished_at >= started_at)
);
-- A job's run history, newest first.
CREATE INDEX job_runs_job_id_scheduled_at_idx ON scheduler.job_runs (job_id, scheduled_at DESC);
-- The work queue (see the header).
CREATE INDEX job_runs_due_idx ON scheduler.job_runs (scheduled_at) WHERE status IN ('queued', 'retrying');
-- Running runs, for the reaper of stale heartbeats.
CREATE INDEX job_runs_running_idx ON scheduler.job_runs (heartbeat_at) WHERE status = 'running';
-- Dashboards: runs by state over time.
CREATE INDEX job_runs_status_created_at_idx ON scheduler.job_runs (status, created_at DESC);
CREATE TRIGGER job_runs_touch_updated_at BEFORE UPDATE ON scheduler.job_runs
  FOR EACH ROW EXECUTE FUNCTION platform.touch_updated_at();
