-- Helpers shared by the application schemas. The `platform` schema holds code, no data; the
-- application role gets no privileges on it (trigger functions need none to fire).
CREATE SCHEMA platform;
COMMENT ON SCHEMA platform IS 'Helpers shared by the application schemas (triggers); no data.';

-- Keeps updated_at honest whatever the client sends: every table with an updated_at column has a
-- BEFORE UPDATE trigger calling this.
CREATE FUNCTION platform.touch_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  NEW.updated_at := now();
  RETURN NEW;
END;
$$;
COMMENT ON FUNCTION platform.touch_updated_at() IS 'BEFORE UPDATE trigger: sets updated_at to now().';
