/**
 * A failure after part of the work was done, when the resource's own state must remember that part.
 *
 * The dynamic-provider host turns an error that carries `id` and `properties` into Pulumi's
 * `ErrorResourceInitFailed`: the engine then stores `properties` as the resource's outputs (secret
 * bits copied from the inputs of the same name, as for a success), shows `reasons` as the error,
 * and runs an update on the next `up` even when nothing changed. Without it a failed create or update
 * leaves the outputs of the last success, and whatever the failed run did is forgotten.
 *
 * A plain Error with fields, not a subclass: Pulumi's closure serializer rewrites classes as
 * functions, and a serialized `class extends Error` loses its message.
 */
export interface PartialFailure extends Error {
  /** The resource's id (a failed create still gets one). */
  id: string;
  /** The outputs to record: the inputs (with `__provider`) and the state reached. */
  properties: Record<string, unknown>;
  /** Read by the host: the error shown to the user. */
  reasons: string[];
}

export function partialFailure(
  message: string,
  id: string,
  properties: Record<string, unknown>,
): PartialFailure {
  return Object.assign(new Error(message), { id, properties, reasons: [message] });
}

export function isPartialFailure(e: unknown): e is PartialFailure {
  const f = e as Partial<PartialFailure> | undefined;
  return e instanceof Error && typeof f?.id === "string" && typeof f.properties === "object";
}
