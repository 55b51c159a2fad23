-- Model metadata (seed §1): registered models, their versions with a lifecycle status, the artifact
-- URI (object storage) and the evaluation metrics and training parameters as JSON.
CREATE SCHEMA model_registry;
COMMENT ON SCHEMA model_registry IS 'Registered models and their versions.';

CREATE TABLE model_registry.models (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name        text NOT NULL UNIQUE CHECK (name ~ '^[a-z0-9][a-z0-9._-]{0,127}$'),
  description text,
  -- What the model does (`text-classification`, `embedding`, ...) and what it is built with.
  task        text,
  framework   text,
  owner_id    bigint REFERENCES iam.users (id) ON DELETE SET NULL,
  tags        jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(tags) = 'object'),
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX models_owner_id_idx ON model_registry.models (owner_id) WHERE owner_id IS NOT NULL;
CREATE INDEX models_task_idx ON model_registry.models (task);
CREATE INDEX models_tags_idx ON model_registry.models USING gin (tags jsonb_path_ops);
CREATE TRIGGER models_touch_updated_at BEFORE UPDATE ON model_registry.models
  FOR EACH ROW EXECUTE FUNCTION platform.touch_updated_at();

CREATE TABLE model_registry.model_versions (
  id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  model_id          bigint NOT NULL REFERENCES model_registry.models (id) ON DELETE CASCADE,
  version           text NOT NULL CHECK (version ~ '^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$'),
  status            text NOT NULL DEFAULT 'registered'
                    CHECK (status IN ('registered', 'validating', 'staging', 'production', 'archived', 'failed')),
  -- Where the weights are (`s3://models/sentiment/3/`); the registry stores metadata, not blobs.
  artifact_uri      text NOT NULL CHECK (artifact_uri ~ '^[a-z][a-z0-9+.-]*://'),
  artifact_sha256   text CHECK (artifact_sha256 ~ '^[0-9a-f]{64}$'),
  size_bytes        bigint CHECK (size_bytes >= 0),
  -- Evaluation results (`{"accuracy": 0.93, "f1": 0.91}`) and training parameters.
  metrics           jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(metrics) = 'object'),
  params            jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(params) = 'object'),
  description       text,
  created_by        bigint REFERENCES iam.users (id) ON DELETE SET NULL,
  status_changed_at timestamptz NOT NULL DEFAULT now(),
  created_at        timestamptz NOT NULL DEFAULT now(),
  updated_at        timestamptz NOT NULL DEFAULT now(),
  UNIQUE (model_id, version)
);
-- A model's versions, newest first.
CREATE INDEX model_versions_model_id_created_at_idx ON model_registry.model_versions (model_id, created_at DESC);
-- At most one production version per model; finding it is an index lookup.
CREATE UNIQUE INDEX model_versions_one_production_idx ON model_registry.model_versions (model_id)
  WHERE status = 'production';
-- Versions in a given state across models (the validation queue, everything in staging).
CREATE INDEX model_versions_status_idx ON model_registry.model_versions (status, status_changed_at);
CREATE INDEX model_versions_created_by_idx ON model_registry.model_versions (created_by) WHERE created_by IS NOT NULL;
CREATE TRIGGER model_versions_touch_updated_at BEFORE UPDATE ON model_registry.model_versions
  FOR EACH ROW EXECUTE FUNCTION platform.touch_updated_at();

-- status_changed_at follows status.
CREATE FUNCTION model_registry.track_status_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.status IS DISTINCT FROM OLD.status THEN
    NEW.status_changed_at := now();
  END IF;
  RETURN NEW;
END;
$$;
CREATE TRIGGER model_versions_track_status BEFORE UPDATE OF status ON model_registry.model_versions
  FOR EACH ROW EXECUTE FUNCTION model_registry.track_status_change();
