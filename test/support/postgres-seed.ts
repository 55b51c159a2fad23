/**
 * What the seed's migrations (§3.1) must leave in a database, checked on the server: pgvector, the
 * tables of every schema, the HNSW index, and an application role that works with DML only (the
 * views, constraints and triggers the schema promises, exercised through it).
 */
import * as assert from "node:assert/strict";
import { PgLogin, sql } from "./postgres-fixtures";
import type { Services } from "./servers";

/** Asserts the seed schema in `database` and exercises it as the application role `app`. */
export async function assertSeedSchema(
  svc: Services["postgres"],
  database: string,
  appSchemas: string[],
  app: PgLogin,
): Promise<void> {
  // pgvector, the tables of every schema and the HNSW index.
  const ext = await sql<{ extversion: string }>(
    svc,
    database,
    "SELECT extversion FROM pg_extension WHERE extname = 'vector'",
  );
  assert.equal(ext.length, 1);
  const tables = await sql<{ t: string }>(
    svc,
    database,
    `SELECT table_schema || '.' || table_name AS t FROM information_schema.tables
     WHERE table_schema = ANY($1) AND table_type = 'BASE TABLE' ORDER BY 1`,
    [appSchemas],
  );
  assert.deepEqual(
    tables.map((r) => r.t),
    [
      "iam.permissions",
      "iam.role_permissions",
      "iam.roles",
      "iam.user_roles",
      "iam.users",
      "model_registry.model_versions",
      "model_registry.models",
      "scheduler.job_runs",
      "scheduler.jobs",
      "system_config.settings",
      "system_config.settings_history",
      "vector_store.collections",
      "vector_store.embeddings",
    ],
  );
  const [hnsw] = await sql<{ indexdef: string }>(
    svc,
    database,
    "SELECT indexdef FROM pg_indexes WHERE schemaname = 'vector_store' AND indexname = 'embeddings_embedding_hnsw_idx'",
  );
  assert.match(hnsw.indexdef, /USING hnsw \(embedding vector_cosine_ops\)/);

  // The application role logs in with its password and works with DML only.
  await sql(
    svc,
    database,
    `WITH u AS (INSERT INTO iam.users (username, email) VALUES ('alice', 'alice@example.com') RETURNING id),
          r AS (INSERT INTO iam.roles (name) VALUES ('ml-engineer') RETURNING id),
          p AS (INSERT INTO iam.permissions (resource, action) VALUES ('model', 'deploy') RETURNING id),
          rp AS (INSERT INTO iam.role_permissions (role_id, permission_id) SELECT r.id, p.id FROM r, p)
     INSERT INTO iam.user_roles (user_id, role_id) SELECT u.id, r.id FROM u, r`,
    [],
    app,
  );
  const perms = await sql(
    svc,
    database,
    "SELECT username, resource, action FROM iam.user_permissions",
    [],
    app,
  );
  assert.deepEqual(perms, [{ username: "alice", resource: "model", action: "deploy" }]);
  await sql(
    svc,
    database,
    `WITH mo AS (INSERT INTO model_registry.models (name, task) VALUES ('sentiment', 'text-classification') RETURNING id)
     INSERT INTO model_registry.model_versions (model_id, version, status, artifact_uri, metrics)
     SELECT id, '1.0.0', 'production', 's3://models/sentiment/1/', '{"f1": 0.91}' FROM mo`,
    [],
    app,
  );
  await assert.rejects(
    sql(
      svc,
      database,
      `INSERT INTO model_registry.model_versions (model_id, version, status, artifact_uri)
       SELECT id, '2.0.0', 'production', 's3://models/sentiment/2/' FROM model_registry.models`,
      [],
      app,
    ),
    /model_versions_one_production_idx/,
  );
  await sql(
    svc,
    database,
    `INSERT INTO system_config.settings (key, value) VALUES ('features.rag', '{"on": false}')`,
    [],
    app,
  );
  await sql(
    svc,
    database,
    `UPDATE system_config.settings SET value = '{"on": true}' WHERE key = 'features.rag'`,
    [],
    app,
  );
  const [setting] = await sql<{ version: number; history: string }>(
    svc,
    database,
    "SELECT version, (SELECT count(*) FROM system_config.settings_history)::text AS history FROM system_config.settings",
    [],
    app,
  );
  assert.deepEqual(setting, { version: 2, history: "1" });
  await sql(
    svc,
    database,
    `WITH j AS (INSERT INTO scheduler.jobs (name, job_type, schedule) VALUES ('nightly-train', 'model_training', '0 3 * * *') RETURNING id)
     INSERT INTO scheduler.job_runs (job_id) SELECT id FROM j`,
    [],
    app,
  );
  await sql(
    svc,
    database,
    `WITH c AS (INSERT INTO vector_store.collections (name, embedding_model) VALUES ('docs', 'all-mpnet-base-v2') RETURNING id)
     INSERT INTO vector_store.embeddings (collection_id, external_id, embedding)
     SELECT c.id, 'doc-' || i, (SELECT array_agg(CASE WHEN d = i THEN 1.0 ELSE 0.01 END) FROM generate_series(1, 768) d)::vector
     FROM c, generate_series(1, 3) i`,
    [],
    app,
  );
  const nearest = await sql<{ external_id: string }>(
    svc,
    database,
    `SELECT external_id FROM vector_store.embeddings
     ORDER BY embedding <=> (SELECT array_agg(CASE WHEN d = 2 THEN 1.0 ELSE 0.0 END) FROM generate_series(1, 768) d)::vector LIMIT 1`,
    [],
    app,
  );
  assert.deepEqual(nearest, [{ external_id: "doc-2" }]);
  await assert.rejects(sql(svc, database, "CREATE TABLE iam.sneaky (id int)", [], app), /permission denied/);
}
