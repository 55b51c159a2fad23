/**
 * Recognising a literal credential: a non-empty string under a key that names a secret (`password`,
 * `apiKey`, `allowed_keys`, `replicaSetKey`, `PGPASSWORD`), a URL with a password in it, or a
 * `password = ...` / `requirepass ...` line in a configuration file. Keys that only name where a secret
 * lives (`existingSecret`, `adminPasswordKey`, `secretKeyRef`, `envSecrets`) are references, not secrets.
 */

/** Lower case without separators: `AUTHENTICATION_APIKEY_ALLOWED_KEYS` -> `authenticationapikeyallowedkeys`. */
function normalise(key: string): string {
  return key.toLowerCase().replace(/[^a-z0-9]/g, "");
}

const SECRET_SUFFIX =
  /(password|passwords|passwd|passphrase|pwd|token|tokens|apikey|apikeys|accesskey|secretkey|privatekey|allowedkeys|replicasetkey|credential|credentials|clientsecret|connectionstring|jaasconfig)$/;

/**
 * Names that point at a secret instead of holding one. A bare `...Secret` key is left out of the suffixes
 * above on purpose: in chart values it almost always names a Secret object (`tls.certificatesSecret`).
 */
const REFERENCE =
  /^(existing|use|enable|create|auto|skip|require)|(secretname|secretref|keyref|passwordkey|passwordkeys|tokenkey|secretkeys|pullsecrets|file|files|path|mountpath|length|enabled|ttl|policy|encryption|mechanism|mechanisms)$/;

/** True when a key or env var name says its value is a credential. */
export function isCredentialName(name: string): boolean {
  const n = normalise(name);
  return !REFERENCE.test(n) && SECRET_SUFFIX.test(n);
}

/** Env var names also end in `_AUTH` (`REDISCLI_AUTH`); in values keys that suffix is not a secret (`sslClientAuth`). */
export function isCredentialEnvName(name: string): boolean {
  return isCredentialName(name) || /(^|_)AUTH$/i.test(name);
}

/** Subtrees that hold references to Secrets, never secret values. */
export function isReferenceSubtree(key: string): boolean {
  const n = normalise(key);
  return (
    n === "envsecrets" ||
    n === "secretkeys" ||
    n === "secretkeyref" ||
    n === "valuefrom" ||
    n.startsWith("existingsecret")
  );
}

/**
 * Placeholders and expansions are not literals: `$(VAR)`, `${VAR}`, `{{ .Values.x }}`, `<set-me>`, and a
 * printf conversion (`--sasl.password=%s` in a format whose argument is `"$VAR"`).
 */
function isPlaceholder(v: string): boolean {
  return /^(\$\(|\$\{|\$[A-Za-z_]|\{\{|<|%s(\\n)?$)/.test(v.trim());
}

/** A literal (non-empty, not a placeholder) string. */
export function isLiteral(v: unknown): v is string {
  return typeof v === "string" && v.trim().length > 0 && !isPlaceholder(v);
}

const URL_WITH_PASSWORD = /\b[a-z][a-z0-9+.-]*:\/\/[^\s:@/]+:([^\s@/]+)@/gi;
const ASSIGNMENT =
  /(?:^|[\s"'{,;])([A-Za-z0-9_.-]*?(?:password|passwd|secret|token|api[_-]?key|apikey))["']?\s*[:=]\s*["']?([^\s"',;}#]+)/gim;
const REDIS_DIRECTIVE = /^\s*(requirepass|masterauth)\s+(\S+)/gim;

/** Why a string holds a credential in its text (a URL with a password, a `password=` line), else `undefined`. */
export function credentialInText(text: string): string | undefined {
  for (const m of text.matchAll(URL_WITH_PASSWORD)) {
    if (!isPlaceholder(m[1])) return "a URL with a password in it";
  }
  for (const m of text.matchAll(ASSIGNMENT)) {
    if (isCredentialName(m[1]) && isLiteral(m[2])) return `a literal value for "${m[1]}"`;
  }
  for (const m of text.matchAll(REDIS_DIRECTIVE)) {
    if (isLiteral(m[2])) return `a literal "${m[1]}"`;
  }
  return undefined;
}
