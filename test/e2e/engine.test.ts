/**
 * The program under the real Pulumi engine (scripts/engine-build.sh: CLI + Node language host + random
 * provider plugin, built from Go modules), with all five services in `external` mode against the real
 * servers of scripts/services.sh, credentials as stack secrets (passphrase provider, local file backend).
 *
 * Steps, each asserted on the servers through their own clients:
 *   1. `pulumi up` creates everything: schema + pgvector, collections + indexes, class, topics, ACL users,
 *      a Kafka SCRAM user.
 *   2. `pulumi preview --expect-no-changes` passes (idempotency); CrossGuard passes (dev) and fails (prod).
 *   3. `pulumi refresh` finds no drift; an index dropped and a topic config altered behind Pulumi's back
 *      show up in refresh and preview, and the next `up` repairs both.
 *   4. New topic, new index, new migration and more partitions apply as one update of three resources.
 *   5. Fewer partitions, and a vectorizer change, are refused with the resource's message; nothing changes.
 *      An `up` that fails half way (one index created, the next refused) records what it created in the
 *      state, so the next `up` still drops that index when it leaves config.
 *   5c. The Redis ACL and Kafka SCRAM users resources renamed without an alias (create, then delete):
 *      every login still works; a user then deleted by hand is back after the next `up`, no refresh.
 *   6. A topic and a collection removed from config, then `pulumi destroy`, leave the data and the logins in place.
 *   7. No configured or generated password appears in plain text in `pulumi stack export`, the state
 *      files, the stack file or any command's output.
 * Each pulumi command's wall time is printed (`e2e timing: <step> <s> s`).
 *
 * Objects are named e2e_<run>/e2e-<run>/E2e<RUN>; those of earlier runs are removed first, so re-runs on
 * the same servers work, and the last run's objects stay for inspection.
 */
import * as assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { test, TestContext } from "node:test";
import { DataServices, requireServer } from "../support/servers";
import {
  assertDataKept,
  assertGeneratedLogins,
  assertStackOnServers,
  assertUsersKept,
  renameUsersResourcesThenDropAUser,
} from "./engine-checks";
import { engineNames, initialDesired, MIGRATION_SQL, stackConfig, stackSecrets } from "./engine-stack";
import {
  engineBin,
  linesWith,
  operations,
  PREVIEW_NO_CHANGES,
  Steps,
  summary,
  timed,
  timing,
  timingSummary,
  UP,
  Workspace,
} from "./harness";
import { generatedPasswords, plainTextLeaks, workspacePlaces } from "./secret-scan";
import {
  alterTopicConfigs,
  cleanEarlierRuns,
  mongoState,
  pgState,
  topics,
  weaviateClass,
  withMongo,
  withPg,
} from "./servers";

const PROJECT = "ai-platform-data";

/** The pack (policies/index.ts `new PolicyPack("ai-platform-data")`) ran and found nothing. */
const POLICY_PASSED = /Policies:\s*\n\s*✅ ai-platform-data@v[\d.]+ \(local: policies\)/;

const run = randomBytes(3).toString("hex");
const N = engineNames(run);

test("real Pulumi engine: external-mode stack against the test servers", async (t: TestContext) => {
  const pg = await requireServer(t, "postgres");
  const mongodb = await requireServer(t, "mongodb");
  const weaviate = await requireServer(t, "weaviate");
  const redis = await requireServer(t, "redis");
  const kafka = await requireServer(t, "kafka");
  if (!pg || !mongodb || !weaviate || !redis || !kafka) return;
  const svc: DataServices = { postgres: pg, mongodb, weaviate, redis, kafka };

  const bin = engineBin(t);
  if (!bin) return;

  await cleanEarlierRuns(svc);
  const ws = new Workspace(bin);
  console.log(`e2e: run ${run}, workspace ${ws.dir}`);
  const steps = new Steps(t);
  const step = steps.step;
  const desired = initialDesired(N);
  /** RandomPassword results and bcrypt hashes by resource name, from `stack export --show-secrets`. */
  const generated = new Map<string, { result: string; bcryptHash: string }>();
  let plainExport = "";

  const writeConfig = () => ws.writeConfig(PROJECT, stackConfig(svc, desired, N));

  try {
    timed("stack-init", ws.pulumiOk(["stack", "init", ws.stack]));
    const secrets = stackSecrets(svc);
    timing("config-set-secrets", ws.setSecrets(secrets));
    writeConfig();

    await step(
      "1. up creates everything (schema, collections, indexes, class, topics, ACL users)",
      async () => {
        const r = timed("1-up-create", ws.pulumiOk([...UP]));
        const s = summary(r.out);
        assert.ok(s.created >= 10, `expected the stack's resources to be created:\n${r.out.slice(-3000)}`);
        assert.equal(s.updated + s.deleted + s.replaced, 0, r.out.slice(-3000));

        await assertStackOnServers(svc, N);

        // The generated passwords, to log in with below and to search for in step 7.
        const full = timed(
          "stack-export-show-secrets",
          ws.pulumiOk(["stack", "export", "--show-secrets"], { secretOutput: true }),
        );
        for (const [name, g] of generatedPasswords(full.out)) generated.set(name, g);
        assert.deepEqual(
          [...generated.keys()].sort(),
          [
            "mongodb-app-password",
            "postgres-app-password",
            `redis-acl-${N.aclUser}-password`,
            `kafka-client-password-${N.kafkaUser}`,
          ].sort(),
        );
        for (const [name, g] of generated) assert.ok(g.result.length === 32, `${name}: no generated result`);

        await assertGeneratedLogins(svc, N, generated);
      },
    );

    await step("2. preview --expect-no-changes passes right after up", async () => {
      const r = timed("2-preview-no-change", ws.pulumiOk([...PREVIEW_NO_CHANGES, "--diff"]));
      const s = summary(r.out);
      assert.equal(s.created + s.updated + s.deleted + s.replaced, 0, r.out.slice(-3000));
    });

    await step(
      "policies: the CrossGuard pack passes with dev.json and fails on kafka-replication with prod.json",
      async () => {
        const good = timed("policy-preview-dev", ws.policyPreview("dev"));
        assert.equal(good.code, 0, `dev policies should pass:\n${good.out.slice(-4000)}`);
        assert.match(
          good.out,
          POLICY_PASSED,
          `the policy pack did not run or did not pass:\n${good.out.slice(-4000)}`,
        );

        const bad = timed("policy-preview-prod", ws.policyPreview("prod"));
        assert.notEqual(bad.code, 0, `prod policies should fail on RF 1 topics:\n${bad.out.slice(-4000)}`);
        const named = linesWith(bad.out, "kafka-replication");
        assert.ok(named.length > 0, `no kafka-replication violation named:\n${bad.out.slice(-4000)}`);
        assert.match(bad.out, /mandatory/);
        assert.match(bad.out, new RegExp(`topic "${N.events}" .*has replicationFactor 1, below 2`));

        // `npm run preview -- -s e2e` (scripts/preview.sh) with the policy config named like the stack.
        fs.copyFileSync(
          path.join(ws.project, "policies", "config", "dev.json"),
          path.join(ws.project, "policies", "config", `${ws.stack}.json`),
        );
        const npm = timed(
          "npm-run-preview",
          ws.run("npm", ["run", "preview", "--", "-s", ws.stack, "--non-interactive", "--color", "never"]),
        );
        assert.equal(npm.code, 0, `npm run preview -- -s e2e failed:\n${npm.out.slice(-4000)}`);
        // (preview.sh falls back to prod.json without e2e.json, which would fail as above.)
        assert.match(npm.out, POLICY_PASSED, npm.out.slice(-4000));
      },
    );

    await step(
      "3. refresh finds no drift; drift made behind Pulumi's back is shown and repaired",
      async () => {
        const clean = timed(
          "3-refresh-no-drift",
          ws.pulumi(["refresh", "--yes", "--skip-preview", "--expect-no-changes", "--suppress-progress"]),
        );
        assert.equal(clean.code, 0, `refresh found drift on a fresh stack:\n${clean.out.slice(-4000)}`);

        // Behind Pulumi's back: drop an index, alter a topic config.
        await withMongo(mongodb, (client) => client.db(N.mongoDb).collection("events").dropIndex("kind_ts"));
        await alterTopicConfigs(kafka, N.events, { "retention.ms": "60000", "cleanup.policy": "delete" });

        const drift = timed(
          "3-refresh-drift",
          ws.pulumi(["refresh", "--yes", "--skip-preview", "--suppress-progress", "--diff"]),
        );
        assert.equal(drift.code, 0, drift.out.slice(-4000));
        assert.equal(
          summary(drift.out).updated,
          2,
          `refresh should update 2 resources:\n${drift.out.slice(-4000)}`,
        );
        assert.deepEqual(
          operations(drift.out),
          { "mongodb-collections": "update", "kafka-topics": "update" },
          drift.out.slice(-6000),
        );

        const pv = timed("3-preview-after-drift", ws.pulumi([...PREVIEW_NO_CHANGES, "--diff"]));
        assert.notEqual(pv.code, 0, `preview should see the drift:\n${pv.out.slice(-4000)}`);
        assert.deepEqual(
          operations(pv.out),
          { "mongodb-collections": "update", "kafka-topics": "update" },
          pv.out.slice(-6000),
        );

        const up = timed("3-up-repair", ws.pulumiOk([...UP, "--diff"]));
        assert.deepEqual(
          operations(up.out),
          { "mongodb-collections": "update", "kafka-topics": "update" },
          up.out.slice(-6000),
        );
        assert.match(up.out, /\[mongodb-collections\] created index events\.kind_ts/);
        assert.match(up.out, new RegExp(`\\[kafka-topics\\] set configs of topic ${N.events}`));
        assert.deepEqual((await mongoState(mongodb, N.mongoDb)).events, ["_id_", "kind_ts", "ts_1"]);
        assert.deepEqual((await topics(kafka, [N.events]))[N.events].configs, {
          "retention.ms": "3600000",
          "cleanup.policy": "delete",
        });
        timed("3-preview-after-repair", ws.pulumiOk([...PREVIEW_NO_CHANGES]));
      },
    );

    await step(
      "4. a config change (new topic, index, migration, more partitions) applies as an update",
      async () => {
        desired.topics[0].partitions = 3;
        desired.topics.push({ name: N.audit, partitions: 1, replicationFactor: 1, configs: {} });
        desired.collections[1].indexes.push({ name: "owner_1", keys: { owner: 1 } });
        writeConfig();
        fs.writeFileSync(path.join(ws.project, "init", "postgres", "migrations", N.migration), MIGRATION_SQL);

        const r = timed("4-up-update", ws.pulumiOk([...UP, "--diff"]));
        const s = summary(r.out);
        assert.deepEqual(
          { updated: s.updated, created: s.created, deleted: s.deleted, replaced: s.replaced },
          { updated: 3, created: 0, deleted: 0, replaced: 0 },
          r.out.slice(-4000),
        );
        assert.deepEqual(
          operations(r.out),
          { "postgres-schema": "update", "mongodb-collections": "update", "kafka-topics": "update" },
          r.out.slice(-6000),
        );

        const tp = await topics(kafka, [N.events, N.audit]);
        assert.equal(tp[N.events].partitions, 3);
        assert.deepEqual(tp[N.audit], { partitions: 1, replicationFactor: 1, configs: {} });
        assert.deepEqual((await mongoState(mongodb, N.mongoDb)).docs, ["_id_", "owner_1", "slug_unique"]);
        const p = await pgState(pg, N.db);
        assert.equal(p.migrations.length, 9);
        assert.equal(p.migrations[8], "e2e_marker");
        const marker = await withPg(pg, N.db, (c) =>
          c.query("SELECT to_regclass('system_config.e2e_marker') AS t"),
        );
        assert.equal(marker.rows[0].t, "system_config.e2e_marker");
        timed("4-preview-after-update", ws.pulumiOk([...PREVIEW_NO_CHANGES]));
      },
    );

    await step(
      "5. destructive changes are refused with the resource's message; nothing changes",
      async () => {
        // Fewer partitions.
        desired.topics[0].partitions = 2;
        writeConfig();
        const shrink = timed("5-up-fewer-partitions", ws.pulumi([...UP]));
        assert.notEqual(shrink.code, 0, `fewer partitions should be refused:\n${shrink.out.slice(-4000)}`);
        assert.match(
          shrink.out,
          new RegExp(`topic "${N.events}" has 3 partitions and Kafka cannot remove partitions`),
        );
        assert.equal((await topics(kafka, [N.events]))[N.events].partitions, 3);
        desired.topics[0].partitions = 3;

        // A vectorizer change (the module enabled, so only the in-place blocker can refuse it).
        desired.vectorizer = "text2vec-transformers";
        desired.transformersEnabled = true;
        writeConfig();
        const vec = timed("5-up-vectorizer-change", ws.pulumi([...UP]));
        assert.notEqual(vec.code, 0, `a vectorizer change should be refused:\n${vec.out.slice(-4000)}`);
        assert.match(
          vec.out,
          new RegExp(`class "${N.cls}": its vectorizer would change from "none" to "text2vec-transformers"`),
        );
        assert.match(vec.out, /weaviate\.allowRecreate/);
        assert.deepEqual(await weaviateClass(weaviate, N.cls), {
          vectorizer: "none",
          properties: ["body", "title"],
        });
        desired.vectorizer = "none";
        desired.transformersEnabled = false;
        writeConfig();

        const after = timed("5-preview-after-refusals", ws.pulumi([...PREVIEW_NO_CHANGES]));
        assert.equal(after.code, 0, `the refused runs changed the stack:\n${after.out.slice(-4000)}`);
      },
    );

    await step(
      "5b. an up that fails half way records what it did; the next up converges from there",
      async () => {
        // FerretDB refuses TTL indexes (NotImplemented): events' batch (tag_1) is created, then docs'
        // (expires_ttl) fails; one createIndexes per collection, so the two are in different collections.
        // On real MongoDB any later failing command (a conflicting index, a lost connection) does the same.
        const events = desired.collections[0];
        const docs = desired.collections[1];
        const beforeEvents = [...events.indexes];
        const before = [...docs.indexes];
        events.indexes.push({ name: "tag_1", keys: { tag: 1 } });
        docs.indexes.push({ name: "expires_ttl", keys: { expires: 1 }, expireAfterSeconds: 3600 });
        writeConfig();
        const failedUp = timed("5b-up-fails-half-way", ws.pulumi([...UP]));
        assert.notEqual(failedUp.code, 0, failedUp.out.slice(-4000));
        assert.match(failedUp.out, /creating index docs\.expires_ttl failed/);
        const half = await mongoState(mongodb, N.mongoDb);
        assert.deepEqual(half.docs, ["_id_", "owner_1", "slug_unique"]);
        assert.ok(
          half.events.includes("tag_1"),
          `events.tag_1 was not created: ${JSON.stringify(half.events)}`,
        );
        const res = ws.exportedResource("mongodb-collections");
        assert.ok(res, "mongodb-collections is in the state");
        assert.ok(
          (res.outputs?.ownedIndexes as { collection: string; name: string }[]).some(
            (o) => o.collection === "events" && o.name === "tag_1",
          ),
          `the state records tag_1 as created by the resource: ${JSON.stringify(res.outputs?.ownedIndexes)}`,
        );
        assert.equal(res.initErrors?.length, 1, "the engine keeps the failure, to run an update next time");

        // Both entries leave config: the index the failed run created is dropped, like any owned one.
        docs.indexes = before;
        events.indexes = beforeEvents;
        writeConfig();
        const r = timed("5b-up-after-failure", ws.pulumiOk([...UP, "--diff"]));
        assert.deepEqual(operations(r.out), { "mongodb-collections": "update" }, r.out.slice(-4000));
        assert.match(r.out, /dropped index events\.tag_1 \(removed from config; this resource created it\)/);
        const repaired = await mongoState(mongodb, N.mongoDb);
        assert.deepEqual(repaired.docs, ["_id_", "owner_1", "slug_unique"]);
        assert.ok(!repaired.events.includes("tag_1"), JSON.stringify(repaired.events));
        timed("5b-preview-after-repair", ws.pulumiOk([...PREVIEW_NO_CHANGES]));
      },
    );

    await step(
      "5c. renaming the ACL and SCRAM users resources (no alias) keeps every login: create, then delete",
      () => renameUsersResourcesThenDropAUser(ws, svc, N, generated),
    );

    await step(
      "6. removing a topic and a collection, then destroy, leave the data and the logins in place",
      async () => {
        await withMongo(mongodb, (client) =>
          client.db(N.mongoDb).collection("docs").insertOne({ slug: "kept", owner: "e2e" }),
        );
        desired.topics = desired.topics.filter((x) => x.name !== N.logs);
        desired.collections = desired.collections.filter((c) => c.name !== "docs");
        writeConfig();
        const r = timed("6-up-remove", ws.pulumiOk([...UP, "--diff"]));
        assert.deepEqual(
          operations(r.out),
          { "mongodb-collections": "update", "kafka-topics": "update" },
          r.out.slice(-6000),
        );
        assert.ok((await topics(kafka, [N.logs]))[N.logs], `topic ${N.logs} was deleted`);
        assert.deepEqual((await mongoState(mongodb, N.mongoDb)).docs, ["_id_", "owner_1", "slug_unique"]);

        plainExport = timed("stack-export", ws.pulumiOk(["stack", "export"])).out;

        const d = timed(
          "6-destroy",
          ws.pulumiOk(["destroy", "--yes", "--skip-preview", "--suppress-progress"]),
        );
        assert.ok(summary(d.out).deleted >= 10, d.out.slice(-4000));
        assert.match(d.out, /\[kafka-topics\] kept topics .*\(kafka\.deleteRemovedTopics is false\)/);
        assert.match(
          d.out,
          /\[mongodb-collections\] kept collections .*\(mongodb\.dropRemovedCollections is false\)/,
        );

        await assertDataKept(svc, N);
        await assertUsersKept(svc, N, generated);
      },
    );

    await step(
      "7. no password in plain text in the export, the state, the stack file or any output",
      async () => {
        assert.ok(plainExport.length > 0, "no plain export taken (step 6 did not run)");
        const secrets: Array<[string, string]> = [
          ...Object.entries(stackSecrets(svc)),
          ["PULUMI_CONFIG_PASSPHRASE", ws.env.PULUMI_CONFIG_PASSPHRASE!],
        ];
        for (const [name, g] of generated) {
          secrets.push([`${name}.result`, g.result]);
          if (g.bcryptHash) secrets.push([`${name}.bcryptHash`, g.bcryptHash]);
        }
        assert.ok(generated.size >= 3, "generated passwords were not collected (step 1)");
        const places: Array<[string, string]> = [
          ["pulumi stack export", plainExport],
          [path.basename(ws.stackFile()), fs.readFileSync(ws.stackFile(), "utf8")],
          ...workspacePlaces(ws),
        ];
        assert.deepEqual(plainTextLeaks(places, secrets), [], `plain-text secrets found`);
        console.log(
          `e2e: searched ${secrets.length} secrets in ${places.length} places (${ws.transcript.length} command outputs, ${places.length - ws.transcript.length - 2} state files)`,
        );
      },
    );
  } finally {
    console.log(`e2e timings (run ${run}):\n${timingSummary()}`);
    if (steps.failed || process.env.AIPD_E2E_KEEP === "1") console.log(`e2e: kept ${ws.dir} for inspection`);
    else ws.remove();
  }
});
