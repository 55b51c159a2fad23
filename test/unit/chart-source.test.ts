/**
 * `<service>.chart`: where each service's chart comes from (a mirror's OCI registry or Helm repository,
 * a local folder), validated, wired through the shared release helper for every component, and judged
 * by the policy pack's chart-version rule. Also keeps the stand-in charts of test/fixtures/charts on the
 * pinned names and versions, which the program requires of a local chart.
 */
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, describe, it } from "node:test";
import { chartVersionPinned } from "../../policies/rules";
import { CHARTS, chartSourceProblems, chartYamlMetadata } from "../../components/shared/charts";
import { componentConfigProblems } from "../../components/validation";
import { parseConfig } from "../../config";
import {
  byType,
  ProgramRun,
  RegisteredResource,
  ROOT,
  runError,
  runOk,
  stackConfig,
} from "../support/program";
import { configFor, packConfig, Stack, violations } from "../support/policy-harness";
import { configProblems as problems, serviceOverride } from "../support/unit-config";

const RELEASE = "kubernetes:helm.sh/v3:Release";
/** Config key of each service, and the release (and stand-in folder) of its chart. */
const SERVICES = [
  ["postgres", "postgresql"],
  ["mongodb", "mongodb"],
  ["redis", "redis"],
  ["kafka", "kafka"],
  ["weaviate", "weaviate"],
] as const;
const FIXTURES = path.join(ROOT, "test", "fixtures", "charts");

/** A stack's own service objects with `extra` merged in, as whole-key overrides for runProgram. */
function withServices(
  stack: string,
  extra: (key: string, chart: string) => Record<string, unknown>,
): Record<string, unknown> {
  const cfg = stackConfig(stack);
  return Object.fromEntries(
    SERVICES.map(([key, chart]) => {
      const own = (cfg[`ai-platform-data:${key}`] ?? {}) as Record<string, unknown>;
      return [`ai-platform-data:${key}`, { ...own, ...extra(key, chart) }];
    }),
  );
}

function releaseOf(run: ProgramRun, name: string): RegisteredResource {
  const r = byType(run, RELEASE).find((x) => x.inputs.name === name);
  assert.ok(r, `no release ${name}`);
  return r;
}

/** Chart folders made by {@link tempChart}, removed after each test. */
const tempCharts: string[] = [];
afterEach(() => {
  for (const dir of tempCharts.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

/** A temporary chart folder with this Chart.yaml, removed after the test. */
function tempChart(chartYaml: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "aipd-chart-"));
  tempCharts.push(dir);
  fs.writeFileSync(path.join(dir, "Chart.yaml"), chartYaml);
  return dir;
}

/** The chart-version rule's violations for one release, with the pack config entry `config`. */
async function chartViolations(r: RegisteredResource, config: Record<string, unknown>): Promise<string[]> {
  return (await violations(chartVersionPinned, [r], config)).map((v) => v.message);
}

/** The chart-version rule's entry in a policy config file. */
function packEntry(stack: Stack): Record<string, unknown> {
  return configFor(packConfig(stack), chartVersionPinned);
}

describe("chart source (<service>.chart)", () => {
  it("accepts an OCI reference, a Helm repository with a name, and a local chart folder", () => {
    const c = parseConfig({
      postgres: { chart: { source: "oci://registry.internal:5000/mirror/bitnamicharts/postgresql" } },
      weaviate: {
        chart: { source: "https://charts.internal/weaviate", name: "weaviate", version: "16.8.0" },
      },
      redis: { chart: { source: "./test/fixtures/charts/redis" } },
      kafka: { chart: { source: path.join(FIXTURES, "kafka") } },
    });
    assert.equal(c.postgres.chart?.source, "oci://registry.internal:5000/mirror/bitnamicharts/postgresql");
    assert.equal(c.weaviate.chart?.name, "weaviate");
    assert.equal(c.mongodb.chart, undefined);
  });

  it("names the key, the value and what is allowed for a bad source, name or version", () => {
    const m = problems({
      postgres: { chart: { source: "registry.internal/charts/postgresql" } },
      mongodb: { chart: { source: "oci://registry.internal/charts/mongodb:13.18.5" } },
      redis: { chart: { source: "./no/such/folder" } },
      kafka: { chart: { source: "./test/fixtures" } },
      weaviate: {
        chart: { source: "oci://registry.internal/charts/weaviate", name: "weaviate", version: "^16" },
      },
    });
    assert.match(
      m,
      /ai-platform-data:postgres\.chart\.source: "registry\.internal\/charts\/postgresql" is not a chart source; use an OCI reference \(oci:\/\/.*\), a Helm repository URL \(https:\/\/.*\) or a local chart folder/,
    );
    assert.match(
      m,
      /ai-platform-data:mongodb\.chart\.source: ".*mongodb:13\.18\.5" is not an OCI chart reference; .*no tag: the version goes in chart\.version/,
    );
    assert.match(
      m,
      /ai-platform-data:redis\.chart\.source: "\.\/no\/such\/folder" is not a folder \(looked for \/.*\/no\/such\/folder\)/,
    );
    assert.match(
      m,
      /ai-platform-data:kafka\.chart\.source: "\.\/test\/fixtures" has no Chart\.yaml; point it at the chart's own folder/,
    );
    assert.match(m, /ai-platform-data:weaviate\.chart\.name: "weaviate" is not used with an oci:\/\/ source/);
    assert.match(
      m,
      /ai-platform-data:weaviate\.chart\.version: "\^16" is not an exact chart version such as 15\.5\.38 \(no range\)/,
    );
    assert.match(
      problems({ redis: { chart: { source: "https://charts.internal", repo: "x" } } }),
      /ai-platform-data:redis\.chart: unknown key "repo"; allowed: source, name, version/,
    );
  });

  it("refuses a chart for a service in external mode", () => {
    const m = problems({
      postgres: {
        mode: "external",
        endpoint: { host: "db.internal", port: 5432 },
        chart: { source: "oci://registry.internal/charts/postgresql" },
      },
    });
    assert.match(
      m,
      /ai-platform-data:postgres\.chart: only used when postgres\.mode is "helm"; no chart is installed for an external server/,
    );
  });

  it("requires a local chart to be the pinned chart: Chart.yaml name and version", () => {
    const wrong = tempChart('apiVersion: v2\nname: "mongodb"\nversion: 15.5.30 # a neighbour\n');
    const p = chartSourceProblems("postgres", CHARTS.postgresql, { source: wrong });
    assert.deepEqual(p, [
      `ai-platform-data:postgres.chart.source: ${JSON.stringify(wrong)} holds chart "mongodb" (Chart.yaml name); postgres installs chart "postgresql"`,
      `ai-platform-data:postgres.chart.source: ${JSON.stringify(wrong)} holds version "15.5.30" (Chart.yaml version), not 15.5.38 (the pinned version); use a copy of postgresql 15.5.38, or set postgres.chart.version to its version once the program's values are checked against it`,
    ]);
    const ok = tempChart("apiVersion: v2\nname: postgresql\nversion: '15.5.38'\n");
    assert.deepEqual(chartSourceProblems("postgres", CHARTS.postgresql, { source: ok }), []);
    // An explicit version is what the folder must carry then.
    assert.match(
      chartSourceProblems("postgres", CHARTS.postgresql, { source: ok, version: "15.5.39" })[0],
      /holds version "15\.5\.38" \(Chart\.yaml version\), not 15\.5\.39 \(postgres\.chart\.version\); use a copy of postgresql 15\.5\.39$/,
    );
    // Mirrors are checked by Helm when it pulls the exact version.
    assert.deepEqual(
      chartSourceProblems("postgres", CHARTS.postgresql, { source: "oci://r/c/postgresql" }),
      [],
    );
    // Run before any resource, with every other config problem.
    const config = parseConfig({ postgres: { chart: { source: wrong } }, mongodb: { enabled: false } });
    assert.equal(componentConfigProblems(config).filter((x) => x.includes("chart.source")).length, 2);
    const m = runError("dev", {
      ...serviceOverride("dev", "postgres", {
        chart: { source: wrong },
      }),
    });
    assert.match(m, /ai-platform-data:postgres\.chart\.source: .* holds version "15\.5\.30"/);
  });

  it("reads name and version from Chart.yaml in the forms Helm writes", () => {
    assert.deepEqual(
      chartYamlMetadata('apiVersion: v2\nname: kafka\nversion: "26.11.4"\nappVersion: 3.6.1\n'),
      {
        name: "kafka",
        version: "26.11.4",
      },
    );
    assert.deepEqual(chartYamlMetadata("name: 'redis'  # the chart\r\nversion: 17.17.1\r\n"), {
      name: "redis",
      version: "17.17.1",
    });
    // Nested keys are not the chart's.
    assert.deepEqual(chartYamlMetadata("dependencies:\n  - name: common\n    version: 2.x.x\n"), {});
  });

  describe("every component installs from the configured source", () => {
    const mirrored = runOk(
      "prod",
      withServices("prod", (key, chart) =>
        key === "weaviate"
          ? { chart: { source: "https://charts.internal/weaviate" } }
          : { chart: { source: `oci://registry.internal/mirror/bitnamicharts/${chart}` } },
      ),
    );

    it("an OCI mirror keeps the pinned version; a Helm repository takes the pinned chart's name", () => {
      for (const [key, chart] of SERVICES) {
        const r = releaseOf(mirrored, chart);
        const pinned = CHARTS[chart];
        if (key === "weaviate") {
          assert.equal(r.inputs.chart, "weaviate");
          assert.deepEqual(r.inputs.repositoryOpts, { repo: "https://charts.internal/weaviate" });
        } else {
          assert.equal(r.inputs.chart, `oci://registry.internal/mirror/bitnamicharts/${chart}`, key);
          assert.equal(r.inputs.repositoryOpts, undefined, key);
        }
        assert.equal(r.inputs.version, pinned.version, key);
      }
    });

    it("the default stays the pinned public location", () => {
      const plain = runOk("prod");
      for (const [, chart] of SERVICES) {
        const r = releaseOf(plain, chart);
        assert.equal(r.inputs.chart, CHARTS[chart].chart);
        assert.equal(r.inputs.version, CHARTS[chart].version);
      }
      assert.deepEqual(releaseOf(plain, "weaviate").inputs.repositoryOpts, { repo: CHARTS.weaviate.repo });
    });

    it("chart-version-pinned passes a mirror with the pinned version, in prod", async () => {
      for (const [, chart] of SERVICES) {
        assert.deepEqual(await chartViolations(releaseOf(mirrored, chart), packEntry("prod")), [], chart);
      }
    });

    const local = runOk(
      "dev",
      withServices("dev", (_key, chart) => ({ chart: { source: `./test/fixtures/charts/${chart}` } })),
    );

    it("a local folder is passed as written, with the pinned version its Chart.yaml carries", () => {
      for (const [, chart] of SERVICES) {
        const r = releaseOf(local, chart);
        assert.equal(r.inputs.chart, `./test/fixtures/charts/${chart}`);
        assert.equal(r.inputs.version, CHARTS[chart].version);
        assert.equal(r.inputs.repositoryOpts, undefined);
      }
    });

    it("chart-version-pinned refuses a local chart unless the pack's config allows it (dev.json does)", async () => {
      for (const [, chart] of SERVICES) {
        const r = releaseOf(local, chart);
        const refused = await chartViolations(r, packEntry("prod"));
        assert.deepEqual(refused, [
          `release "${chart}" installs the local chart ./test/fixtures/charts/${chart}; Helm ignores the version of a local chart, so nothing pins what is installed. Install it from a registry or repository, or allow local charts in the policy config (allowLocalCharts) for tests and chart development.`,
        ]);
        assert.deepEqual(await chartViolations(r, packEntry("dev")), [], chart);
        assert.equal(packEntry("dev").allowLocalCharts, true);
      }
    });

    it("chart-version-pinned still refuses a range for a mirror, and an archive or absolute path as local", async () => {
      const r = structuredClone(releaseOf(mirrored, "redis"));
      r.inputs.version = "^17";
      assert.equal((await chartViolations(r, {})).length, 1);
      for (const chart of ["/charts/redis", "../charts/redis", "redis-17.17.1.tgz"]) {
        const l = structuredClone(releaseOf(mirrored, "redis"));
        l.inputs.chart = chart;
        assert.match((await chartViolations(l, {}))[0], /installs the local chart/, chart);
        assert.deepEqual(await chartViolations(l, { allowLocalCharts: true }), [], chart);
      }
      const aliased = structuredClone(releaseOf(mirrored, "redis"));
      aliased.inputs.chart = "bitnami/redis";
      assert.deepEqual(await chartViolations(aliased, {}), []);
    });
  });
});

describe("stand-in charts (test/fixtures/charts)", () => {
  it("carry the pinned chart's name and version, which the program requires of a local chart", () => {
    for (const [key, chart] of SERVICES) {
      const text = fs.readFileSync(path.join(FIXTURES, chart, "Chart.yaml"), "utf8");
      const meta = chartYamlMetadata(text);
      const pinned = CHARTS[chart];
      assert.equal(meta.name, pinned.chart.split("/").pop(), chart);
      assert.equal(meta.version, pinned.version, chart);
      assert.match(text, new RegExp(`^appVersion: ${pinned.appVersion.replace(/\./g, "\\.")}$`, "m"), chart);
      assert.deepEqual(chartSourceProblems(key, pinned, { source: `./test/fixtures/charts/${chart}` }), []);
    }
  });

  it("say plainly that they are stand-ins", () => {
    for (const [, chart] of SERVICES) {
      const text = fs.readFileSync(path.join(FIXTURES, chart, "Chart.yaml"), "utf8");
      assert.match(text, /^# STAND-IN CHART FOR TESTS\. This is not /, chart);
      assert.match(text, /description: >-\n {2}STAND-IN for tests, not /, chart);
    }
    assert.match(
      fs.readFileSync(path.join(FIXTURES, "README.md"), "utf8"),
      /These five folders are stand-ins for tests\. They deploy nothing\./,
    );
  });
});
