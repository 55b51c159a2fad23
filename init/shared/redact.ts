/** Removing credentials from anything that may reach a log, an error or state. */

/** Replaces every occurrence of each secret (and its URI-encoded form) with `***`. */
export function redact(text: string, secrets: (string | undefined)[]): string {
  let out = text;
  for (const s of secrets) {
    if (!s || s.length < 4) continue;
    for (const form of new Set([s, encodeURIComponent(s)])) out = out.split(form).join("***");
  }
  // Credentials embedded in URIs, whatever they are.
  return out.replace(/(\w+:\/\/[^:/@\s]+:)[^@\s]+@/g, "$1***@");
}
