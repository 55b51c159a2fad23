/**
 * Values not known yet. During a preview the engine passes every input that depends on a resource not
 * created yet (a generated password, a Service's address) as this sentinel string, at the place of the
 * whole value or of one element or field inside it (`pulumi.runtime.unknownValue`). `check` validates
 * what is known and leaves the rest to the real run, when every value is known; `diff` reports a change.
 */
import * as pulumi from "@pulumi/pulumi";

/** The sentinel, copied into a constant: the provider's closure captures this string, not the SDK. */
export const UNKNOWN: string = pulumi.runtime.unknownValue;

/** Whether the value itself is not known yet. */
export function isUnknown(value: unknown): boolean {
  return value === UNKNOWN;
}

/** Whether the value, or anything inside it, is not known yet. */
export function containsUnknown(value: unknown): boolean {
  if (value === UNKNOWN) return true;
  if (Array.isArray(value)) return value.some(containsUnknown);
  if (value !== null && typeof value === "object") return Object.values(value).some(containsUnknown);
  return false;
}

/** The value when it is known through and through; otherwise undefined (nothing to check yet). */
export function known<T>(value: T): T | undefined {
  return containsUnknown(value) ? undefined : value;
}

/**
 * `check`'s failure for a server list (`hosts`, `brokers`) that is known and empty or not a list; an
 * unknown list is left to the real run.
 */
export function endpointListFailures(
  property: string,
  value: unknown,
): { property: string; reason: string }[] {
  if (isUnknown(value) || (Array.isArray(value) && value.length > 0)) return [];
  return [{ property, reason: "at least one host:port is needed" }];
}
