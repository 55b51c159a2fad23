-- Users and permissions (seed §1): role-based access control. A permission is an action on a kind of
-- resource (`model:deploy`, `job:run`); roles bundle permissions; users hold roles, optionally until a
-- date. Authentication itself lives in the identity provider: `external_id` is its subject.
CREATE SCHEMA iam;
COMMENT ON SCHEMA iam IS 'Users, roles and permissions (role-based access control).';

CREATE TABLE iam.users (
  id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  username      text NOT NULL CHECK (username ~ '^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$'),
  email         text CHECK (email IS NULL OR position('@' IN email) > 1),
  display_name  text,
  external_id   text,
  is_active     boolean NOT NULL DEFAULT true,
  last_login_at timestamptz,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now()
);
-- Names and addresses are unique whatever their case (logins are case-insensitive).
CREATE UNIQUE INDEX users_username_key ON iam.users (lower(username));
CREATE UNIQUE INDEX users_email_key ON iam.users (lower(email)) WHERE email IS NOT NULL;
CREATE UNIQUE INDEX users_external_id_key ON iam.users (external_id) WHERE external_id IS NOT NULL;
CREATE TRIGGER users_touch_updated_at BEFORE UPDATE ON iam.users
  FOR EACH ROW EXECUTE FUNCTION platform.touch_updated_at();

CREATE TABLE iam.roles (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name        text NOT NULL UNIQUE CHECK (name ~ '^[a-z][a-z0-9_-]{0,62}$'),
  description text,
  -- Built-in roles the platform relies on; applications should refuse to delete them.
  is_system   boolean NOT NULL DEFAULT false,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE TRIGGER roles_touch_updated_at BEFORE UPDATE ON iam.roles
  FOR EACH ROW EXECUTE FUNCTION platform.touch_updated_at();

CREATE TABLE iam.permissions (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  resource    text NOT NULL CHECK (resource ~ '^[a-z][a-z0-9_.-]{0,62}$'),
  action      text NOT NULL CHECK (action ~ '^[a-z*][a-z0-9_.-]{0,62}$'),
  description text,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now(),
  UNIQUE (resource, action)
);
CREATE TRIGGER permissions_touch_updated_at BEFORE UPDATE ON iam.permissions
  FOR EACH ROW EXECUTE FUNCTION platform.touch_updated_at();

CREATE TABLE iam.role_permissions (
  role_id       bigint NOT NULL REFERENCES iam.roles (id) ON DELETE CASCADE,
  permission_id bigint NOT NULL REFERENCES iam.permissions (id) ON DELETE CASCADE,
  granted_by    bigint REFERENCES iam.users (id) ON DELETE SET NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (role_id, permission_id)
);
-- "Which roles carry this permission": the primary key serves the other direction.
CREATE INDEX role_permissions_permission_id_idx ON iam.role_permissions (permission_id);

CREATE TABLE iam.user_roles (
  user_id    bigint NOT NULL REFERENCES iam.users (id) ON DELETE CASCADE,
  role_id    bigint NOT NULL REFERENCES iam.roles (id) ON DELETE CASCADE,
  granted_by bigint REFERENCES iam.users (id) ON DELETE SET NULL,
  -- NULL: until revoked.
  expires_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (user_id, role_id)
);
CREATE INDEX user_roles_role_id_idx ON iam.user_roles (role_id);
-- Foreign keys to users from audit columns: deleting a user must not scan these tables.
CREATE INDEX role_permissions_granted_by_idx ON iam.role_permissions (granted_by) WHERE granted_by IS NOT NULL;
CREATE INDEX user_roles_granted_by_idx ON iam.user_roles (granted_by) WHERE granted_by IS NOT NULL;

-- The effective permissions of every user (active users, unexpired roles): what an authorisation
-- check reads.
CREATE VIEW iam.user_permissions AS
SELECT u.id AS user_id, u.username, p.resource, p.action
FROM iam.users u
JOIN iam.user_roles ur ON ur.user_id = u.id AND (ur.expires_at IS NULL OR ur.expires_at > now())
JOIN iam.role_permissions rp ON rp.role_id = ur.role_id
JOIN iam.permissions p ON p.id = rp.permission_id
WHERE u.is_active;
