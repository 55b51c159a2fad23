/**
 * Drift seen by `pulumi up` without a refresh. `diff` must stay pure and a Node dynamic provider cannot ask
 * the engine for a refresh before its update, so the initialisers that keep users read the servers in
 * `check`, in `up` only (a preview never contacts them), and hand what they saw to `diff` as an input.
 */
import { progress } from "./progress";

/** Seconds `check` spends reading the servers before it leaves drift to the next run. */
export const OBSERVE_SECONDS = 60;

/**
 * Runs `read` (which must only read) with the deadline cut to {@link OBSERVE_SECONDS}. Undefined when the
 * servers cannot be read by then: the update, if the diff finds another reason for one, has its own
 * deadline, and an unreadable server must not fail a run that changes nothing there.
 */
export async function observeForDrift<I extends { timeoutSeconds: number }, T>(
  resource: string,
  what: string,
  inputs: I,
  read: (bounded: I) => Promise<T>,
): Promise<T | undefined> {
  const bounded = { ...inputs, timeoutSeconds: Math.min(inputs.timeoutSeconds, OBSERVE_SECONDS) };
  try {
    return await read(bounded);
  } catch (e) {
    progress(resource).log(`could not read ${what} for drift (${(e as Error).message}); not checked`);
    return undefined;
  }
}
