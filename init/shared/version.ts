/**
 * The `codeVersion` input of every initialiser: a hash of the initialiser's source file and of every
 * file it imports by relative path (init/shared/...), read at program time.
 *
 * Why an input: the dynamic-provider host runs the code stored in the resource's `__provider`. `update`
 * and `create` get it from the new inputs, but `read` (refresh) and `delete` get it from the outputs in
 * state, which only change when an update runs, and the initialisers leave `__provider` out of their
 * diff (its text also changes with the transpiler, and comparing it would make every tool upgrade look
 * like a change). So a release of new initialiser code would otherwise never reach a stack whose config
 * did not change. With `codeVersion` in the diff, the first `up` after a release updates each
 * initialiser once (it converges again with the new code, which is idempotent) and stores the new
 * `__provider` in its outputs; from then on refresh and delete run the new code too. Until that `up`,
 * `pulumi refresh` and `pulumi destroy` still run the code of the last update: run `up` after upgrading.
 *
 * The hash is of the source text with line endings normalised, so it is the same on every checkout of
 * the same commit and a no-op preview shows no change. Client libraries (`kafkajs`, `pg`, ...) are not
 * part of it: the stored code `require`s them from the checkout's node_modules when it runs, so a
 * library upgrade reaches every operation at once.
 */
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";

/** Relative module specifiers a TypeScript or CommonJS file imports (`./shared/diff`). */
function relativeImports(source: string): string[] {
  const found = new Set<string>();
  const patterns = [
    /\bfrom\s+["'](\.{1,2}\/[^"']+)["']/g,
    /\bimport\s+["'](\.{1,2}\/[^"']+)["']/g,
    /\brequire\(\s*["'](\.{1,2}\/[^"']+)["']\s*\)/g,
  ];
  for (const re of patterns) for (const m of source.matchAll(re)) found.add(m[1]);
  return [...found].sort();
}

function resolveModule(from: string, specifier: string): string {
  const base = path.resolve(path.dirname(from), specifier);
  for (const candidate of [
    base,
    `${base}.ts`,
    `${base}.js`,
    path.join(base, "index.ts"),
    path.join(base, "index.js"),
  ]) {
    if (fs.existsSync(candidate) && fs.statSync(candidate).isFile()) return candidate;
  }
  throw new Error(`codeVersion: cannot find "${specifier}" imported by ${from}`);
}

/**
 * `sha256:<16 hex>` over the file and its relative imports, transitively; files are keyed by their path
 * relative to the entry file's folder, so the checkout's location does not matter.
 */
export function codeVersion(entry: string): string {
  const root = path.dirname(entry);
  const seen = new Map<string, string>();
  const visit = (file: string): void => {
    if (seen.has(file)) return;
    const text = fs.readFileSync(file, "utf8").replace(/\r\n?/g, "\n");
    seen.set(file, text);
    for (const spec of relativeImports(text)) visit(resolveModule(file, spec));
  };
  visit(entry);
  const hash = crypto.createHash("sha256");
  for (const file of [...seen.keys()].sort()) {
    const rel = path.relative(root, file).split(path.sep).join("/");
    hash.update(`${rel}\0${seen.get(file)}\0`);
  }
  return `sha256:${hash.digest("hex").slice(0, 16)}`;
}

/** The input every initialiser carries besides its own. */
export interface VersionedInputs {
  /** {@link codeVersion} of the initialiser's file, set by its resource class: a new release is a change. */
  codeVersion?: string;
}
