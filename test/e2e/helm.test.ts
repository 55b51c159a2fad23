/**
 * Helm mode under the real Pulumi engine and the real Kubernetes provider plugin (scripts/engine-build.sh),
 * on the Kubernetes API of scripts/kube.sh (etcd, kube-apiserver, controller-manager, scheduler; kwok fakes
 * the node, so pods are scheduled and become Ready but run nothing). All five services are deployed from
 * the pinned charts as published (the archives of ../shared/charts that services.sh caches, sums checked,
 * unpacked into the workspace) through the `<service>.chart` setting, so the provider renders the real
 * templates; credentials come from Secrets the test keeps, as External Secrets would
 * (`<service>.credentials.existingSecret`), holding the passwords of the test servers.
 *
 * Every initialiser runs with `connect: port-forward` and no endpoint override: it reaches the release's
 * pods through the API server, where kwok PortForward objects (cluster.ts) send PostgreSQL, MongoDB and
 * Weaviate pods to the loopback servers of scripts/services.sh, and Kafka and Redis pods to the
 * cluster-shaped servers of scripts/cluster-servers.sh: two brokers that advertise their pods' in-cluster
 * names (resolving nowhere; the brokers talk among themselves on a listener of their own), and Redis nodes
 * and Sentinels in a network namespace, announced by names that resolve only inside it. So an address a
 * server hands back that the mapping misses fails the run instead of quietly connecting. The namespace is
 * the one those servers' names carry (cluster.json), fixed.
 *
 * MongoDB: FerretDB, the stand-in, is no replica set: its `hello` names no members, so member naming
 * (a secondary's `primary` reply mapped to the primary's pod) is covered by the unit tests of
 * init/mongodb/forward.ts only; here the seed member's pod is forwarded.
 *
 * Steps, each asserted by reading the API server back with kubectl:
 *   0. `pulumi preview` of the new stack passes (generated passwords are unknown then).
 *   1. `pulumi up` creates the namespace's objects: Secrets, five releases with Ready pods, data and backup
 *      PVCs bound, backup CronJobs, NetworkPolicies, PrometheusRules, `db-credentials`; the initialisers
 *      ran against the real servers.
 *   2. `pulumi preview --expect-no-changes` passes; the policy pack passes with dev.json.
 *   3. A sizing change (`redis.resources.limits.memory`) previews and applies as an update of the Redis
 *      release alone, and reaches the StatefulSet.
 *   3b. A Sentinel failover while `pulumi up` runs, started once the Redis initialiser is connected to a
 *      node; the up succeeds, its topic change (partitions, retention.ms) reaches every broker and its ACL
 *      change every Redis node, the new master included.
 *   4. A mandatory policy fails the preview of a stack that breaks it (prod.json: RF 1 topics).
 *   5. `pulumi destroy` removes the releases and keeps every data PVC, every backup PVC and the namespace.
 *   6. No generated or configured secret in plain text in the state, outputs, command output, or any
 *      object read back from the API server other than a Secret (ConfigMaps, pod templates, CronJobs).
 *   7. No Node process of the engine (program, dynamic providers, policy pack) dialled a pod or Service
 *      IP, an in-cluster name, or a server's own port: only the API server and the forwards' loopback ends
 *      (dial-log.cjs records every connection).
 * Each step's wall time is printed, with a no-op preview of an empty program on the same engine.
 */
import * as assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { test, TestContext } from "node:test";
import { requireHelm, unpackPublishedCharts } from "../support/chart-render";
import { DataServices, requireServer } from "../support/servers";
import { until } from "../support/wait";
import {
  aclClientOnANode,
  aclOnEveryNode,
  clusterTopic,
  redisFailover,
  redisMaster,
  requireCluster,
} from "./cluster";
import { clusterPortForwards } from "../../scripts/local/stand-in-forwards";
import {
  emptyProgramPreview,
  engineBin,
  linesWith,
  operations,
  PREVIEW_NO_CHANGES,
  Steps,
  summary,
  timed,
  timing,
  unexpectedChanges,
  timingSummary,
  UP,
  Workspace,
} from "./harness";
import { dialled, helmReleases, names, offForwards } from "./helm-checks";
import { Kube, KubeObject, prometheusOperatorCrds } from "./kube";
import { missingPodReferences } from "./pod-references";
import { generatedPasswords, plainTextLeaks, workspacePlaces } from "./secret-scan";
import { HelmStackKnobs, helmNames, helmStackConfig, userSecrets, userSecretValues } from "./helm-stack";

const PROJECT = "ai-platform-data";
const run = randomBytes(3).toString("hex");
/** Namespaces of earlier versions of this test (one per run), removed at start. */
const NS_PREFIX = "aipd-e2e-";
/** The pack ran (advisories allowed: helm mode's Kafka controller listener draws one). */
const POLICY_RAN = /Policies:\s*\n\s*(✅|⚠️) ai-platform-data@v[\d.]+ \(local: policies\)/;
const RELEASES = ["postgresql", "mongodb", "redis", "kafka", "weaviate"];

const DIAL_HOOK = path.join(__dirname, "dial-log.cjs");

test("real Pulumi engine: helm-mode stack on a real Kubernetes API server", async (t: TestContext) => {
  const kubeInfo = await requireServer(t, "kube");
  const pg = await requireServer(t, "postgres");
  const mongodb = await requireServer(t, "mongodb");
  const weaviate = await requireServer(t, "weaviate");
  const redis = await requireServer(t, "redis");
  const kafka = await requireServer(t, "kafka");
  const cluster = await requireCluster(t);
  const helm = requireHelm(t);
  if (!kubeInfo || !pg || !mongodb || !weaviate || !redis || !kafka || !cluster || !helm) return;
  const svc: DataServices = { postgres: pg, mongodb, weaviate, redis, kafka };
  const ns = cluster.namespace;
  const bin = engineBin(t);
  if (!bin) return;

  const kube = new Kube(kubeInfo);
  // Earlier runs' namespaces keep their PVCs by design (step 5): remove them, and their volumes, first.
  for (const old of kube.list("namespaces").map((n: KubeObject) => n.metadata.name as string))
    if (old.startsWith(NS_PREFIX) || old === ns) kube.run(["delete", "namespace", old, "--wait=false"]);
  await kube.until(`namespace ${ns} of an earlier run gone`, () => !kube.get("namespace", ns), 300_000);
  kube.apply(...prometheusOperatorCrds());
  // The namespace and the user's Secrets exist first, as when External Secrets keeps them; the program's
  // Namespace resource takes the namespace over (server-side apply). kwok's forwards name the pods the
  // releases will create.
  kube.apply(
    { apiVersion: "v1", kind: "Namespace", metadata: { name: ns } },
    ...userSecrets(svc, cluster, ns, run),
    ...clusterPortForwards(cluster, svc, ns),
  );

  const ws = new Workspace(bin);
  ws.env.KUBECONFIG = kubeInfo.kubeconfig;
  const dialLog = path.join(ws.dir, "dials.log");
  fs.writeFileSync(dialLog, "");
  ws.env.AIPD_DIAL_LOG = dialLog;
  ws.env.NODE_OPTIONS = `${process.env.NODE_OPTIONS ?? ""} --require ${DIAL_HOOK}`.trim();
  console.log(`e2e helm: run ${run}, namespace ${ns}, workspace ${ws.dir}`);
  const steps = new Steps(t);
  const step = steps.step;
  const knobs: HelmStackKnobs = {
    run,
    chartsDir: unpackPublishedCharts(helm, path.join(ws.dir, "charts")),
    memoryLimit: "256Mi",
    topic: { partitions: 1, retentionMs: "3600000" },
    aclKeys: ["e2e:*"],
  };
  const writeConfig = () => ws.writeConfig(PROJECT, helmStackConfig(svc, cluster, knobs));
  let plainExport = "";
  /** Every object but Secrets, read back while the releases were installed (for step 6). */
  let objectsDump = "";
  /** Generated passwords (RandomPassword results) by resource name, for step 6. */
  const generated = new Map<string, string>();

  try {
    timed("helm-stack-init", ws.pulumiOk(["stack", "init", ws.stack]));
    writeConfig();

    await step("0. preview of the new stack passes with unknown generated passwords", async () => {
      const r = timed("helm-0-preview-new-stack", ws.pulumi(["preview", "--suppress-progress"]));
      assert.equal(r.code, 0, `preview of a new stack failed:\n${r.out.slice(-6000)}`);
      assert.ok(summary(r.out).created > 40, `too few resources to create:\n${r.out.slice(-3000)}`);
      assert.deepEqual(helmReleases(kube, ns), [], "preview installed a release");
    });

    await step("1. up deploys the five releases and every object, and initialises the servers", async () => {
      const r = timed("helm-1-up", ws.pulumi([...UP]));
      assert.equal(r.code, 0, `up failed:\n${r.out.slice(-8000)}`);
      assert.deepEqual(helmReleases(kube, ns), [...RELEASES].sort());
      // Pods Ready and every data PVC bound (the releases waited for both; read back all the same).
      const pods = kube
        .list("pods", ns)
        .filter((p: KubeObject) => !p.metadata.ownerReferences?.some((o: KubeObject) => o.kind === "Job"));
      for (const rel of RELEASES)
        assert.ok(
          // Weaviate's chart labels its pods `app: weaviate` only (components/weaviate.ts WEAVIATE_POD_LABELS).
          pods.some((p: KubeObject) =>
            rel === "weaviate"
              ? p.metadata.labels?.app === "weaviate"
              : p.metadata.labels?.["app.kubernetes.io/instance"] === rel,
          ),
          `no pod of release ${rel}`,
        );
      for (const p of pods)
        assert.ok(
          p.status.conditions?.some((c: KubeObject) => c.type === "Ready" && c.status === "True"),
          `pod ${p.metadata.name} is not Ready`,
        );
      // What a real kubelet would refuse to start and kwok does not check.
      assert.deepEqual(missingPodReferences(kube, ns), [], "pods name objects that do not exist");
      // Backup PVCs have no pod until the CronJob runs: the harness's binder binds them on its next pass.
      const pvcs = await kube.until("every PVC bound", () => {
        const all = kube.list("pvc", ns);
        return all.every((c: KubeObject) => c.status.phase === "Bound") ? all : undefined;
      });
      const data = pvcs.filter((c: KubeObject) => !/backup/.test(c.metadata.name));
      const backups = pvcs.filter((c: KubeObject) => /backup/.test(c.metadata.name));
      assert.ok(data.length >= RELEASES.length, `data PVCs: ${names(data)}`);
      assert.equal(backups.length, RELEASES.length, `backup PVCs: ${names(backups)}`);
      const cronJobs = kube.list("cronjobs", ns);
      const labelled = (label: string) =>
        cronJobs.filter((j: KubeObject) => j.metadata.labels?.[label] !== undefined).length;
      assert.equal(labelled("ai-platform.io/backup-for"), RELEASES.length, "one backup CronJob per service");
      assert.equal(labelled("ai-platform.io/drill-for"), RELEASES.length, "one restore drill per service");
      assert.equal(cronJobs.length, 2 * RELEASES.length, `CronJobs: ${names(cronJobs)}`);
      assert.ok(kube.list("networkpolicies", ns).length >= RELEASES.length, "NetworkPolicies missing");
      assert.ok(
        kube.list("prometheusrules.monitoring.coreos.com", ns).length >= RELEASES.length,
        "PrometheusRules missing",
      );
      const creds = kube.get("secret", "db-credentials", ns);
      assert.ok(creds, "no db-credentials Secret");
      for (const k of ["postgres-url", "mongodb-uri", "redis-sentinels", "kafka-brokers", "weaviate-url"])
        assert.ok(creds.data[k], `db-credentials lacks ${k}`);
      // The initialisers reached the servers through the forwards: the topic is on every broker, the
      // ACL user on every Redis node.
      const tp = await until("the stack's topic on the brokers", async () => {
        const t = await clusterTopic(cluster, helmNames(run).topic);
        return t?.configs["retention.ms"] === "3600000" ? t : undefined;
      });
      assert.equal(tp.brokers.length, cluster.kafka.brokers.length, `brokers: ${tp.brokers}`);
      assert.deepEqual(tp.partitions, [{ replicas: tp.brokers, isr: tp.brokers }]);
      assert.equal(tp.configs["retention.ms"], "3600000");
      for (const [pod, rules] of Object.entries(aclOnEveryNode(cluster, helmNames(run).aclUser)))
        assert.match(rules ?? "", /~e2e:\*/, `ACL user on ${pod}: ${rules}`);

      const full = ws.pulumiOk(["stack", "export", "--show-secrets"], { secretOutput: true });
      for (const [name, g] of generatedPasswords(full.out)) generated.set(name, g.result);
      objectsDump = kube.run([
        "get",
        "configmaps,statefulsets,deployments,cronjobs,jobs,pods,services,networkpolicies,persistentvolumeclaims,prometheusrules.monitoring.coreos.com",
        "-n",
        ns,
        "-o",
        "json",
      ]).out;
    });

    await step("2. preview --expect-no-changes passes; the policy pack passes with dev.json", async () => {
      const r = timed("helm-2-preview-no-change", ws.pulumi([...PREVIEW_NO_CHANGES, "--diff"]));
      assert.equal(r.code, 0, `a no-op preview found changes:\n${r.out.slice(-6000)}`);
      const good = timed("helm-2-policy-dev", ws.policyPreview("dev"));
      assert.equal(good.code, 0, `dev policies should pass:\n${good.out.slice(-4000)}`);
      assert.match(good.out, POLICY_RAN, good.out.slice(-4000));
      assert.doesNotMatch(good.out, /\[mandatory\]/, good.out.slice(-4000));
    });

    await step("3. a Redis sizing change updates the Redis release alone", async () => {
      knobs.memoryLimit = "320Mi";
      writeConfig();
      const only = { "redis-release": "update" };
      const p = timed("helm-3-preview-sizing", ws.pulumiOk(["preview", "--suppress-progress", "--diff"]));
      assert.deepEqual(changes(p.out), only, unexpectedChanges(p.out, changes(p.out), only));
      const r = timed("helm-3-up-sizing", ws.pulumiOk([...UP, "--diff"]));
      assert.deepEqual(changes(r.out), only, unexpectedChanges(r.out, changes(r.out), only));
      const sts = kube
        .list("statefulsets", ns)
        .filter((s: KubeObject) => s.metadata.labels?.["app.kubernetes.io/instance"] === "redis");
      const limits = sts.flatMap((s: KubeObject) =>
        s.spec.template.spec.containers.map((c: KubeObject) => c.resources?.limits?.memory),
      );
      assert.ok(limits.includes("320Mi"), `Redis StatefulSet limits: ${JSON.stringify(limits)}`);
    });

    await step(
      "3b. a Redis failover during an up; its topic change reaches every broker, its ACL change every node",
      async () => {
        const before = redisMaster(cluster);
        knobs.topic = { partitions: 2, retentionMs: "7200000" };
        knobs.aclKeys = ["e2e:*", "e2e2:*"];
        writeConfig();
        let finished = false;
        const up = ws.pulumiAsync([...UP, "--diff"]);
        void up.then(() => (finished = true));
        // The failover starts once the Redis initialiser is connected to a node: Sentinel then kills the
        // normal clients of the nodes it reconfigures, and the initialiser must find the new master itself.
        let after: string;
        try {
          while (!finished && !aclClientOnANode(cluster)) await new Promise((r) => setTimeout(r, 100));
          assert.ok(
            !finished,
            "the up ended before the Redis initialiser was seen connected: no failover during it",
          );
          after = await redisFailover(cluster);
        } finally {
          // Never leave the up running into the next step, whatever failed here.
          await up;
        }
        console.log(`e2e helm: Redis failed over from ${before} to ${after} during the up`);
        const r = timed("helm-3b-up-with-failover", await up);
        assert.equal(r.code, 0, `up during the failover failed:\n${r.out.slice(-8000)}`);
        assert.ok(Object.keys(changes(r.out)).length >= 2, `too few changes:\n${r.out.slice(-4000)}`);
        // Each broker applies a topic's new config and partitions from the metadata log a moment after
        // the controller accepts them: wait (with a deadline) for what the up set, then check it all.
        const tp = await until("the topic change on the brokers", async () => {
          const t = await clusterTopic(cluster, helmNames(run).topic);
          return t?.partitions.length === 2 && t.configs["retention.ms"] === "7200000" ? t : undefined;
        });
        assert.deepEqual(tp.partitions, [
          { replicas: tp.brokers, isr: tp.brokers },
          { replicas: tp.brokers, isr: tp.brokers },
        ]);
        assert.equal(tp.configs["retention.ms"], "7200000");
        for (const [pod, rules] of Object.entries(aclOnEveryNode(cluster, helmNames(run).aclUser)))
          assert.match(rules ?? "", /~e2e2:\*/, `ACL user on ${pod} after the failover: ${rules}`);
        assert.equal(redisMaster(cluster), after, "the master changed again");
      },
    );

    await step("4. a mandatory policy fails the preview of a stack that breaks it", async () => {
      const bad = timed("helm-4-policy-prod", ws.policyPreview("prod"));
      assert.notEqual(bad.code, 0, `prod policies should fail:\n${bad.out.slice(-4000)}`);
      assert.match(bad.out, /mandatory/);
      assert.ok(linesWith(bad.out, "kafka-replication").length > 0, bad.out.slice(-4000));
    });

    await step(
      "5. destroy removes the releases and keeps the data and backup PVCs and the namespace",
      async () => {
        const before = names(kube.list("pvc", ns));
        plainExport = ws.pulumiOk(["stack", "export"]).out;
        const r = timed(
          "helm-5-destroy",
          ws.pulumi(["destroy", "--yes", "--skip-preview", "--suppress-progress"]),
        );
        assert.equal(r.code, 0, `destroy failed:\n${r.out.slice(-6000)}`);
        assert.deepEqual(helmReleases(kube, ns), []);
        assert.ok(kube.get("namespace", ns), "the namespace was deleted");
        assert.deepEqual(names(kube.list("pvc", ns)), before, "PVCs lost on destroy");
      },
    );

    await step("6. no secret in plain text in state, outputs or objects other than Secrets", async () => {
      const secrets: Array<[string, string]> = [
        ...userSecretValues(svc, cluster, run),
        ...[...generated].map(([name, v]): [string, string] => [`generated ${name}`, v]),
        ["PULUMI_CONFIG_PASSPHRASE", ws.env.PULUMI_CONFIG_PASSPHRASE!],
      ];
      assert.ok(objectsDump.length > 0, "objects were not read back (step 1)");
      const places: Array<[string, string]> = [
        ["objects read back from the API server (all but Secrets)", objectsDump],
        ["pulumi stack export", plainExport],
        ...workspacePlaces(ws),
      ];
      assert.deepEqual(plainTextLeaks(places, secrets), []);
    });

    await step(
      "7. no connection to a pod or Service IP, an in-cluster name or a server's own port",
      async () => {
        const dials = dialled(dialLog);
        const api = Number(new URL(kubeInfo.server).port);
        assert.ok(
          dials.some((d) => d.port === api),
          "the API server was never dialled: no forward was made",
        );
        const bad = offForwards(dials, svc, cluster);
        assert.deepEqual(bad, [], `of ${dials.length} connections`);
      },
    );
  } finally {
    timing("empty-program-preview", emptyProgramPreview(bin).ms);
    console.log(`e2e helm timings (run ${run}):\n${timingSummary()}`);
    if (steps.failed || process.env.AIPD_E2E_KEEP === "1")
      console.log(`e2e helm: kept ${ws.dir} for inspection`);
    else ws.remove();
  }
});

/** The operations of a `--diff` output other than the reads of the user's Secrets. */
const changes = (out: string) => operations(out, { changesOnly: true });
