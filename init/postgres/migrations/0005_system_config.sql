-- System configuration (seed §1): settings as key / JSON value with a version for optimistic
-- concurrency (`UPDATE ... SET value = $1 WHERE key = $2 AND version = $3`) and the history of
-- every change. Credentials do not belong here: they live in Kubernetes Secrets.
CREATE SCHEMA system_config;
COMMENT ON SCHEMA system_config IS 'Versioned key/value settings and their change history.';

CREATE TABLE system_config.settings (
  key         text PRIMARY KEY CHECK (key ~ '^[a-z0-9][a-z0-9_.-]{0,199}$'),
  value       jsonb NOT NULL,
  description text,
  -- Bumped by the trigger below on every change of value.
  version     integer NOT NULL DEFAULT 1 CHECK (version >= 1),
  updated_by  bigint REFERENCES iam.users (id) ON DELETE SET NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX settings_updated_by_idx ON system_config.settings (updated_by) WHERE updated_by IS NOT NULL;

CREATE TABLE system_config.settings_history (
  id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  key        text NOT NULL,
  value      jsonb,
  version    integer NOT NULL,
  -- `update` or `delete`: the row holds the value as it was before that change.
  operation  text NOT NULL CHECK (operation IN ('update', 'delete')),
  changed_by bigint REFERENCES iam.users (id) ON DELETE SET NULL,
  changed_at timestamptz NOT NULL DEFAULT now()
);
-- A key's history, newest first.
CREATE INDEX settings_history_key_changed_at_idx ON system_config.settings_history (key, changed_at DESC);
CREATE INDEX settings_history_changed_by_idx ON system_config.settings_history (changed_by) WHERE changed_by IS NOT NULL;

CREATE FUNCTION system_config.record_setting_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    INSERT INTO system_config.settings_history (key, value, version, operation, changed_by)
    VALUES (OLD.key, OLD.value, OLD.version, 'delete', OLD.updated_by);
    RETURN OLD;
  END IF;
  IF NEW.value IS DISTINCT FROM OLD.value THEN
    INSERT INTO system_config.settings_history (key, value, version, operation, changed_by)
    VALUES (OLD.key, OLD.value, OLD.version, 'update', NEW.updated_by);
    NEW.version := OLD.version + 1;
  END IF;
  NEW.updated_at := now();
  RETURN NEW;
END;
$$;
CREATE TRIGGER settings_record_update BEFORE UPDATE ON system_config.settings
  FOR EACH ROW EXECUTE FUNCTION system_config.record_setting_change();
CREATE TRIGGER settings_record_delete BEFORE DELETE ON system_config.settings
  FOR EACH ROW EXECUTE FUNCTION system_config.record_setting_change();
