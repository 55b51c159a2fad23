/**
 * A dynamic provider's serialized form, made once per test file and shared by its tests: Pulumi's
 * closure serialization takes seconds each time, and gives the same text for the same code.
 */
import type * as pulumi from "@pulumi/pulumi";
import { viaSerialization } from "./dynamic";

export type Serialized = { provider: pulumi.dynamic.ResourceProvider; text: string };

/** `make()`'s provider as the engine's host would run it, serialized on the first call only. */
export function serializedOnce(make: () => pulumi.dynamic.ResourceProvider): () => Promise<Serialized> {
  let serialized: Promise<Serialized> | undefined;
  return () => (serialized ??= viaSerialization(make()));
}
