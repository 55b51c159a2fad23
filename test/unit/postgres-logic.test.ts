/**
 * The PostgreSQL schema initialiser's check, through its serialized form as Pulumi's dynamic-provider
 * host runs it: an applied migration edited since is refused before anything connects (moved from
 * test/integration/postgres-schema.test.ts; the address is a loopback port nothing answers on).
 */
import * as assert from "node:assert/strict";
import { describe, it } from "node:test";
import { loadMigrations, PostgresSchemaInputs, PostgresSchemaProvider } from "../../init/postgres";
import { viaSerialization } from "../support/dynamic";

const repo = loadMigrations();
const base: PostgresSchemaInputs = {
  host: "127.0.0.1",
  port: 9,
  adminUser: "postgres",
  password: "unused",
  maintenanceDatabase: "postgres",
  database: "aipd_logic",
  appUser: "aipd_logic_app",
  appPassword: "unused-too",
  appSchemas: ["iam", "model_registry", "system_config", "scheduler", "vector_store"],
  migrations: repo,
  timeoutSeconds: 30,
  appPasswordRevision: 0,
  serviceRoles: [],
  serviceRolePasswordsRevision: 0,
  serverSettings: {},
};

describe("PostgreSQL schema initialiser: check refuses before connecting", () => {
  it("refuses an edit of an applied seed migration, naming it and the way out", async () => {
    const { provider } = await viaSerialization(new PostgresSchemaProvider());
    const olds = (await provider.check!({}, base)).inputs;
    const edited = repo.map((x) =>
      x.name === "0003_iam.sql"
        ? { ...x, sql: x.sql.replace("display_name  text,", "display_name  varchar(80),") }
        : x,
    );
    assert.notDeepEqual(edited, repo, "the edit must change the seed's 0003_iam.sql");
    const refused = await provider.check!(olds, { ...base, migrations: edited });
    assert.equal(refused.failures!.length, 1);
    assert.match(
      refused.failures![0].reason,
      /migration 0003_iam.sql was applied to database .* edited since/,
    );
    assert.match(refused.failures![0].reason, /put the change into a new migration 0008_<what_it_does>.sql/);
  });
});
