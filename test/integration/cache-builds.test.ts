/**
 * A cache folder left half-written by a killed install is detected and installed afresh, never trusted:
 * scripts/node.sh (the first step of .ci/run and of the quick start) is killed while it unpacks Node from
 * PyPI's wheel, then run again into the same AIPD_CACHE. Needs PyPI (pip's own cache makes the second
 * download quick); under CI=true a refused download fails the test.
 */
import * as assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, describe, it } from "node:test";

const ROOT = path.join(__dirname, "..", "..");
const VERSION = "22.20.0";
const caches: string[] = [];
after(() => {
  for (const c of caches) fs.rmSync(c, { recursive: true, force: true });
});

function freshCache(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "aipd-cache-test-"));
  caches.push(dir);
  return dir;
}

/** Runs node.sh to the end; its bin folder and stderr. */
function install(cache: string): { bin: string; stderr: string } {
  const r = spawnSync("bash", [path.join(ROOT, "scripts", "node.sh"), VERSION], {
    env: { ...process.env, AIPD_CACHE: cache },
    encoding: "utf8",
    timeout: 600_000,
  });
  assert.equal(r.status, 0, `node.sh failed: ${r.stderr}`);
  return { bin: r.stdout.trim().split("\n").pop()!, stderr: r.stderr };
}

function nodeVersion(bin: string): string {
  return spawnSync(path.join(bin, "node"), ["--version"], { encoding: "utf8" }).stdout.trim();
}

/** The temporary folders of node.sh's attempts in `cache`. */
const attempts = (cache: string) =>
  fs.readdirSync(cache).filter((f) => f.startsWith(`.node-${VERSION}.`) && !f.endsWith(".lock"));

/** Starts node.sh in its own process group and kills the group once it is unpacking; true if caught. */
async function killWhileUnpacking(cache: string): Promise<boolean> {
  const child = spawn("bash", [path.join(ROOT, "scripts", "node.sh"), VERSION], {
    env: { ...process.env, AIPD_CACHE: cache },
    detached: true,
    stdio: "ignore",
  });
  const exited = new Promise<void>((resolve) => child.on("exit", () => resolve()));
  const deadline = Date.now() + 300_000;
  let caught = false;
  while (child.exitCode === null && Date.now() < deadline) {
    const unpacking = attempts(cache).some((d) => fs.existsSync(path.join(cache, d, "out")));
    if (unpacking) {
      process.kill(-child.pid!, "SIGKILL");
      caught = true;
      break;
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  if (child.exitCode === null && !caught) process.kill(-child.pid!, "SIGKILL");
  await exited;
  return caught;
}

describe("cached installs survive a killed build (scripts/node.sh)", () => {
  it("a run killed while unpacking leaves nothing that counts as installed; the next run installs afresh", async () => {
    let cache = "";
    let caught = false;
    // The unpacking takes seconds; a run that finished before the poll saw it is tried again afresh.
    for (let i = 0; i < 3 && !caught; i++) {
      cache = freshCache();
      caught = await killWhileUnpacking(cache);
    }
    assert.ok(caught, "node.sh was never caught while unpacking");
    assert.ok(
      !fs.existsSync(path.join(cache, `node-${VERSION}`, ".complete")),
      "a killed install is marked complete",
    );
    assert.ok(
      attempts(cache).length > 0,
      "the killed run left no temporary folder (nothing was half-written)",
    );

    const { bin, stderr } = install(cache);
    assert.match(stderr, /installing Node.js 22\.20\.0/);
    assert.equal(nodeVersion(bin), `v${VERSION}`);
    assert.deepEqual(attempts(cache), [], "the killed run's temporary folder is still there");
    // Installed now: the next run only finds it.
    assert.doesNotMatch(install(cache).stderr, /installing/);
  });

  it("an install folder without its completion mark (killed while moving in) is replaced, not used", () => {
    const cache = freshCache();
    const root = path.join(cache, `node-${VERSION}`);
    fs.mkdirSync(path.join(root, "bin"), { recursive: true });
    fs.writeFileSync(path.join(root, "bin", "node"), "#!/bin/sh\necho half-written\n", { mode: 0o755 });
    const { bin, stderr } = install(cache);
    assert.match(stderr, /installing Node.js/);
    assert.equal(nodeVersion(bin), `v${VERSION}`);
    assert.ok(fs.existsSync(path.join(root, ".complete")));
  });
});
