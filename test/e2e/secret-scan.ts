/**
 * The e2e's search for secrets in plain text: the generated passwords read from the state, the places a
 * secret must not appear (the backend's state files, every command's output), and the search itself.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { Workspace } from "./harness";

const RANDOM_PASSWORD = "random:index/randomPassword:RandomPassword";

/** A value of `stack export --show-secrets`: a secret is `{<sig>: ..., plaintext: "<JSON>"}`. */
function revealed(v: unknown): string {
  if (v && typeof v === "object" && "plaintext" in v) return String(JSON.parse(String(v.plaintext)));
  return typeof v === "string" ? v : "";
}

/**
 * The RandomPassword results and bcrypt hashes by resource name, from the text of
 * `pulumi stack export --show-secrets`.
 */
export function generatedPasswords(exported: string): Map<string, { result: string; bcryptHash: string }> {
  const state = JSON.parse(exported) as {
    deployment: { resources: { type: string; urn: string; outputs?: Record<string, unknown> }[] };
  };
  const generated = new Map<string, { result: string; bcryptHash: string }>();
  for (const res of state.deployment.resources.filter((x) => x.type === RANDOM_PASSWORD))
    generated.set(res.urn.split("::").pop()!, {
      result: revealed(res.outputs?.result),
      bcryptHash: revealed(res.outputs?.bcryptHash),
    });
  return generated;
}

/** The workspace's state files and every command output so far, as [where, text]. */
export function workspacePlaces(ws: Workspace): Array<[string, string]> {
  return [
    ...ws
      .backendFiles()
      .map((f): [string, string] => [`state ${path.relative(ws.stateDir, f)}`, fs.readFileSync(f, "utf8")]),
    ...ws.transcript.map((o, i): [string, string] => [`output #${i} (${o.split("\n")[0].slice(0, 100)})`, o]),
  ];
}

/** `<secret name> in <where>` for every secret value found in a place. */
export function plainTextLeaks(places: Array<[string, string]>, secrets: Array<[string, string]>): string[] {
  const leaks: string[] = [];
  for (const [where, text] of places)
    for (const [name, value] of secrets) if (value && text.includes(value)) leaks.push(`${name} in ${where}`);
  return leaks;
}
