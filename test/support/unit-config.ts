/** Config validation as the unit tests see it: the one message `parseConfig` refuses a config with. */
import * as assert from "node:assert/strict";
import { ConfigError, parseConfig } from "../../config";
import { stackConfig } from "./program";

/** The message of the ConfigError that `parseConfig` throws for `raw`; fails the test if it accepts. */
export function configProblems(raw: Record<string, unknown>): string {
  try {
    parseConfig(raw);
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected a ConfigError, got ${String(e)}`);
    return e.message;
  }
  assert.fail("config was accepted");
}

/**
 * A whole-key override for runProgram: the stack file's own `<service>` object with `extra` merged in
 * (runProgram replaces top-level keys, so `extra` alone would drop the stack's other settings).
 */
export function serviceOverride(
  stack: string,
  service: string,
  extra: Record<string, unknown>,
): Record<string, unknown> {
  const own = (stackConfig(stack)[`ai-platform-data:${service}`] ?? {}) as Record<string, unknown>;
  return { [`ai-platform-data:${service}`]: { ...own, ...extra } };
}
