/**
 * pgvector in helm mode without a hand-built image (issue 8, item 7): the release's init containers copy
 * the extension into the Bitnami server, and config without a pgvector source (or with one built for
 * another PostgreSQL major) stops before any resource. The init containers' scripts run here against a
 * copy of both images' directory layouts, so the files land where the server's mounts read them.
 */
import * as assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, it } from "node:test";
import { postgresSchema } from "../../config";
import { pgvectorConfigProblems, pgvectorPodValues } from "../../components/shared/pgvector";
import { releaseValues, runError, runOk } from "../support/program";
import { serviceOverride } from "../support/unit-config";
import { ALL_EXTERNAL } from "../support/unit-runs";

/* eslint-disable @typescript-eslint/no-explicit-any -- chart values are untyped JSON */

/** A directory tree with the files each image has where pgvector's install is concerned. */
function fakeImages(root: string, opts: { withVectorSo?: boolean } = {}) {
  const put = (p: string) => {
    fs.mkdirSync(path.dirname(path.join(root, p)), { recursive: true });
    fs.writeFileSync(path.join(root, p), p);
  };
  // Bitnami's server image: its own extensions.
  put("opt/bitnami/postgresql/share/extension/plpgsql.control");
  put("opt/bitnami/postgresql/share/extension/plpgsql--1.0.sql");
  put("opt/bitnami/postgresql/lib/plpgsql.so");
  // pgvector/pgvector:0.8.0-pg16, official postgres layout (make install via pg_config).
  if (opts.withVectorSo !== false) put("usr/lib/postgresql/16/lib/vector.so");
  put("usr/share/postgresql/16/extension/vector.control");
  put("usr/share/postgresql/16/extension/vector--0.8.0.sql");
  put("usr/share/postgresql/16/extension/vector--0.7.4--0.8.0.sql");
  put("usr/share/postgresql/16/extension/plpgsql.control");
}

/** Runs an init container's script with its absolute paths moved under `root`. */
function runInit(container: any, root: string): void {
  const [shell, flags, script] = container.command as string[];
  assert.equal(shell, "/bin/sh");
  const moved = script.replace(/(^|[\s])\/(opt|usr|pgvector)\b/g, `$1${root}/$2`);
  execFileSync("sh", [flags, moved], { stdio: "pipe" });
}

describe("pgvector for the Bitnami server", () => {
  const prod = runOk("prod");
  const dev = runOk("dev");

  it("adds two init containers, an emptyDir and two mounts to the primary and the read replicas", () => {
    for (const run of [prod, dev]) {
      const v = releaseValues(run, "/postgresql") as any;
      for (const component of [v.primary, v.readReplicas]) {
        assert.deepEqual(
          component.initContainers.map((c: any) => [c.name, c.image]),
          [
            ["pgvector-extension-dir", "docker.io/bitnamilegacy/postgresql:16.4.0-debian-12-r14"],
            ["pgvector", "docker.io/pgvector/pgvector:0.8.0-pg16"],
          ],
        );
        assert.deepEqual(component.extraVolumes, [{ name: "pgvector", emptyDir: {} }]);
        assert.deepEqual(component.extraVolumeMounts, [
          {
            name: "pgvector",
            mountPath: "/opt/bitnami/postgresql/share/extension",
            subPath: "extension",
            readOnly: true,
          },
          {
            name: "pgvector",
            mountPath: "/opt/bitnami/postgresql/lib/vector.so",
            subPath: "lib/vector.so",
            readOnly: true,
          },
        ]);
        for (const c of component.initContainers) {
          assert.equal(c.securityContext.privileged, false);
          assert.equal(c.securityContext.runAsNonRoot, true);
          assert.equal(c.securityContext.readOnlyRootFilesystem, true);
          assert.deepEqual(c.volumeMounts, [{ name: "pgvector", mountPath: "/pgvector" }]);
          assert.ok(c.resources.limits.memory, `${c.name} has no memory limit`);
        }
      }
    }
  });

  it("fills exactly what the server mounts: the image's extensions plus pgvector's, and vector.so", () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "aipd-pgvector-"));
    try {
      fakeImages(root);
      const v = pgvectorPodValues(postgresSchema.parse({}))!;
      for (const c of v.initContainers) runInit(c, root);
      const stage = path.join(root, "pgvector");
      for (const m of v.extraVolumeMounts) {
        assert.ok(fs.existsSync(path.join(stage, m.subPath as string)), `nothing at ${m.subPath}`);
      }
      assert.deepEqual(fs.readdirSync(path.join(stage, "extension")).sort(), [
        "plpgsql--1.0.sql",
        "plpgsql.control",
        "vector--0.7.4--0.8.0.sql",
        "vector--0.8.0.sql",
        "vector.control",
      ]);
      // Bitnami's own plpgsql.control, not the official image's: only vector files come from pgvector.
      assert.equal(
        fs.readFileSync(path.join(stage, "extension", "plpgsql.control"), "utf8"),
        "opt/bitnami/postgresql/share/extension/plpgsql.control",
      );
      assert.equal(
        fs.readFileSync(path.join(stage, "lib", "vector.so"), "utf8"),
        "usr/lib/postgresql/16/lib/vector.so",
      );
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });

  it("fails the pod (non-zero exit) when the pgvector image lacks a file", () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "aipd-pgvector-"));
    try {
      fakeImages(root, { withVectorSo: false });
      const [dir, vector] = pgvectorPodValues(postgresSchema.parse({}))!.initContainers;
      runInit(dir, root);
      assert.throws(() => runInit(vector, root));
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });

  it("leaves the server alone when its own image ships pgvector", () => {
    const run = runOk(
      "dev",
      serviceOverride("dev", "postgres", {
        pgvectorSource: "postgresqlImage",
        images: {
          postgresql: { registry: "registry.example", repository: "db/postgresql-pgvector", tag: "16.4.0-1" },
        },
      }),
    );
    const v = releaseValues(run, "/postgresql") as any;
    assert.deepEqual(v.image, {
      registry: "registry.example",
      repository: "db/postgresql-pgvector",
      tag: "16.4.0-1",
    });
    assert.equal(v.primary.initContainers, undefined);
    assert.equal(v.primary.extraVolumeMounts, undefined);
  });

  it("stops before any resource when helm mode has no pgvector source", () => {
    const message = runError(
      "dev",
      serviceOverride("dev", "postgres", { pgvectorSource: "postgresqlImage" }),
    );
    assert.match(
      message,
      /ai-platform-data:postgres.pgvectorSource: "postgresqlImage" needs postgres.images.postgresql.repository set to your image with pgvector; Bitnami's image has no vector extension/,
    );
    assert.doesNotMatch(message, /\n\s+at /);
  });

  it("refuses a pgvector image built for another major version or with a rolling tag", () => {
    const problems = (tag: string, serverTag?: string) =>
      pgvectorConfigProblems(
        postgresSchema.parse({
          images: { pgvector: { tag }, postgresql: serverTag ? { tag: serverTag } : {} },
        }),
      );
    assert.deepEqual(problems("0.8.0-pg16"), []);
    assert.deepEqual(problems("0.8.1-pg16-bookworm"), []);
    assert.deepEqual(problems(`0.8.0-pg16@sha256:${"0".repeat(64)}`), []);
    assert.match(
      problems("0.8.0-pg17")[0],
      /built for PostgreSQL 17, the server is PostgreSQL 16; .* Use a -pg16 tag \(0.8.0-pg16\)/,
    );
    assert.match(problems("0.8.0-pg16", "17.2.0-debian-12-r0")[0], /the server is PostgreSQL 17/);
    for (const rolling of ["pg16", "latest", "0.8.0"]) {
      assert.match(problems(rolling)[0], /does not name a pgvector version and a PostgreSQL major/);
    }
    assert.match(
      runError("dev", serviceOverride("dev", "postgres", { images: { pgvector: { tag: "0.8.0-pg15" } } })),
      /ai-platform-data:postgres.images.pgvector.tag: "0.8.0-pg15" is built for PostgreSQL 15/,
    );
  });

  it("checks nothing of the kind for an external server", () => {
    // Every service external in one run (pgvectorSource "postgresqlImage" without an image), shared with
    // the other components' files.
    const run = runOk("dev", ALL_EXTERNAL);
    assert.ok(
      run.resources.every((r) => r.inputs.name !== "postgresql"),
      "no release in external mode",
    );
  });
});
