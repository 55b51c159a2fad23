/**
 * Weaviate classes (seed §4.4) through the REST client `weaviate-ts-client` 2.2.0, which speaks to 1.22
 * (the v3 client needs gRPC and refuses servers below 1.23.7: REFERENCE §4). New classes and new
 * properties are added in place; a change Weaviate cannot make in place is refused unless the class is
 * listed in `allowRecreate`, which deletes and recreates it (its objects are lost) once: in the update
 * that changes the class's definition in config, never in `create` (a new stack, a renamed resource)
 * and never again while the server still differs from a definition already applied (`applied`).
 */
import * as pulumi from "@pulumi/pulumi";
import { inPlaceDiff, removedNames, stableJson } from "./shared/diff";
import { initialiserOptions } from "./shared/options";
import { partialFailure } from "./shared/partial";
import { Forwarder, ForwardSpec, isForwardRefusal, withForwarder } from "./shared/port-forward";
import { progress } from "./shared/progress";
import { withSession } from "./shared/retry";
import { known } from "./shared/unknown";
import { codeVersion, VersionedInputs } from "./shared/version";

/** A property as config declares it. */
export interface PropertySpec {
  name: string;
  dataType: string[];
  description?: string;
}

/** A class as config declares it and `read` observes it. */
export interface ClassSpec {
  name: string;
  description?: string;
  vectorizer: string;
  properties: PropertySpec[];
}

/** Inputs of the provider. */
export interface WeaviateClassesInputs extends VersionedInputs {
  scheme: string;
  host: string;
  port: number;
  apiKey: string;
  classes: ClassSpec[];
  /** Modules enabled on the server; a class may only use one of these as vectorizer (or `none`). */
  enabledModules: string[];
  /** Classes that may be deleted and recreated when a change cannot be made in place. */
  allowRecreate: string[];
  timeoutSeconds: number;
  /** How to reach the server from here (shared/port-forward.ts); unset: as given. */
  forward?: ForwardSpec;
}

export interface WeaviateClassesOutputs extends WeaviateClassesInputs {
  /**
   * Per class, the fingerprint of the definition last converged ({@link classFingerprint}): a recreate
   * is allowed only for a definition other than this one, so it happens once per change of config.
   */
  applied: Record<string, string>;
  log: string[];
}

type Failure = { property: string; reason: string };

/** Vectorizers that are not enabled: a clear error instead of Weaviate's 422 (unknown values skipped). */
export function vectorizerFailures(
  inputs: Pick<WeaviateClassesInputs, "classes" | "enabledModules">,
): Failure[] {
  const failures: Failure[] = [];
  const modules = known(inputs.enabledModules);
  if (!modules) return failures;
  (known(inputs.classes) ?? []).forEach((c, i) => {
    if (c.vectorizer !== "none" && !modules.includes(c.vectorizer)) {
      failures.push({
        property: `classes[${i}].vectorizer`,
        reason: `class "${c.name}" uses vectorizer "${c.vectorizer}", which is not enabled on this Weaviate (enabled: ${
          modules.join(", ") || "none"
        }); set weaviate.modules.${c.vectorizer}.enabled to true, or use "none"`,
      });
    }
  });
  return failures;
}

/** Why a class cannot be changed in place from `old` to `next`, or undefined when it can. */
export function inPlaceBlocker(old: ClassSpec, next: ClassSpec): string | undefined {
  if (old.vectorizer !== next.vectorizer) {
    return `its vectorizer would change from "${old.vectorizer}" to "${next.vectorizer}"`;
  }
  for (const p of next.properties) {
    const o = old.properties.find((x) => x.name === p.name);
    if (o && JSON.stringify(o.dataType) !== JSON.stringify(p.dataType)) {
      return `property "${p.name}" would change type from ${JSON.stringify(o.dataType)} to ${JSON.stringify(p.dataType)}`;
    }
  }
  return undefined;
}

function recreateHint(name: string): string {
  return `Weaviate cannot make this change in place. To delete class "${name}" with all its objects and create it anew, add "${name}" to ai-platform-data:weaviate.allowRecreate (back up first); otherwise revert the change`;
}

/** Changes refused by comparing old and new desired state (no network; unknown values skipped). */
export function refusedClassChanges(olds: ClassSpec[] | undefined, inputs: WeaviateClassesInputs): Failure[] {
  const failures: Failure[] = [];
  const allowRecreate = known(inputs.allowRecreate);
  if (!allowRecreate) return failures;
  const before = new Map((known(olds) ?? []).map((c) => [c.name, c]));
  (known(inputs.classes) ?? []).forEach((c, i) => {
    const old = before.get(c.name);
    if (!old || allowRecreate.includes(c.name)) return;
    const blocker = inPlaceBlocker(old, c);
    if (blocker)
      failures.push({
        property: `classes[${i}]`,
        reason: `class "${c.name}": ${blocker}. ${recreateHint(c.name)}`,
      });
  });
  return failures;
}

/** A short hash of a class's definition; property order does not count. */
export function classFingerprint(c: ClassSpec): string {
  const crypto = require("crypto");
  const properties = [...c.properties].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return crypto
    .createHash("sha256")
    .update(stableJson({ ...c, properties }))
    .digest("hex")
    .slice(0, 16);
}

/** The fingerprints of the definitions last applied, from the old outputs (older states: their classes). */
export function appliedFingerprints(olds: Partial<WeaviateClassesOutputs>): Record<string, string> {
  if (olds.applied && typeof olds.applied === "object") return olds.applied;
  return Object.fromEntries((olds.classes ?? []).map((c) => [c.name, classFingerprint(c)]));
}

/**
 * Why a class whose server definition cannot be changed in place may not be deleted and recreated now,
 * with what to do; undefined when it may: config lists it in `allowRecreate` and its definition differs
 * from the one this resource last applied (`applied`, undefined in `create`). So a recreate happens once
 * per change of config, and never for a class this resource has not applied (a new stack, a renamed
 * resource, a class just added to config that already exists otherwise).
 */
export function recreateRefusal(
  want: ClassSpec,
  blocker: string,
  allowRecreate: string[],
  applied: Record<string, string> | undefined,
): string | undefined {
  const where = `class "${want.name}" on the server: ${blocker}.`;
  if (!allowRecreate.includes(want.name)) return `${where} ${recreateHint(want.name)}`;
  const fix =
    "make the class in config match the server, or delete the class yourself (its objects are lost) and run again";
  const before = applied?.[want.name];
  if (before === undefined) {
    return `${where} It is listed in weaviate.allowRecreate, but this resource has not applied this class before (a new stack, a renamed resource, or a class that existed before config named it), and it never deletes a class it has not defined: ${fix}`;
  }
  if (before === classFingerprint(want)) {
    return `${where} It is listed in weaviate.allowRecreate, but config's definition is the one already applied, so it is not recreated again (a recreate happens once per change of config): ${fix}`;
  }
  return undefined;
}

/** Weaviate's schema class, reduced to what config declares (properties in the given order first). */
export function normaliseClass(raw: WeaviateClass, order: PropertySpec[] = []): ClassSpec {
  const props = (raw.properties ?? []).map((p) => {
    const spec: PropertySpec = { name: p.name, dataType: p.dataType };
    if (p.description) spec.description = p.description;
    return spec;
  });
  const rank = (n: string) => {
    const i = order.findIndex((p) => p.name === n);
    return i < 0 ? order.length : i;
  };
  props.sort((a, b) => rank(a.name) - rank(b.name));
  const spec: ClassSpec = { name: raw.class, vectorizer: raw.vectorizer ?? "none", properties: props };
  if (raw.description) spec.description = raw.description;
  return spec;
}

interface WeaviateClass {
  class: string;
  description?: string;
  vectorizer?: string;
  properties?: { name: string; dataType: string[]; description?: string }[];
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- weaviate-ts-client is required lazily, untyped here
type WeaviateClient = any;

export class WeaviateClassesProvider implements pulumi.dynamic.ResourceProvider {
  async check(
    olds: Partial<WeaviateClassesInputs>,
    news: WeaviateClassesInputs,
  ): Promise<pulumi.dynamic.CheckResult> {
    const failures = [...vectorizerFailures(news), ...refusedClassChanges(olds.classes, news)];
    return { inputs: news, failures };
  }

  async diff(
    _id: string,
    olds: WeaviateClassesOutputs,
    news: WeaviateClassesInputs,
  ): Promise<pulumi.dynamic.DiffResult> {
    return inPlaceDiff(olds, news, ["log", "applied"]);
  }

  async create(inputs: WeaviateClassesInputs): Promise<pulumi.dynamic.CreateResult> {
    const id = `weaviate-classes-${inputs.host}:${inputs.port}`;
    return { id, outs: await this.converge(id, inputs, [], undefined) };
  }

  async update(
    id: string,
    olds: WeaviateClassesOutputs,
    news: WeaviateClassesInputs,
  ): Promise<pulumi.dynamic.UpdateResult> {
    const removed = removedNames(olds.classes, news.classes);
    return { outs: await this.converge(id, news, removed, appliedFingerprints(olds)) };
  }

  async read(id: string, props: WeaviateClassesOutputs): Promise<pulumi.dynamic.ReadResult> {
    const existing = await this.withClient(props, async (client) => this.schema(client));
    const classes = props.classes
      .map((c) => {
        const raw = existing.get(c.name);
        return raw ? normaliseClass(raw, c.properties) : undefined;
      })
      .filter((c): c is ClassSpec => c !== undefined);
    return { id, props: { ...props, classes } };
  }

  async delete(_id: string, props: WeaviateClassesOutputs): Promise<void> {
    progress("weaviate-classes").log(
      `kept classes ${props.classes.map((c) => c.name).join(", ")} and their objects`,
    );
  }

  /**
   * Brings the server to the desired classes. `applied` is what the last run applied (undefined in
   * `create`). A run that fails after recreating a class records it ({@link partialFailure}), so that
   * the next run does not recreate it again.
   */
  private async converge(
    id: string,
    inputs: WeaviateClassesInputs,
    removed: string[],
    applied: Record<string, string> | undefined,
  ): Promise<WeaviateClassesOutputs> {
    const failures = vectorizerFailures(inputs);
    if (failures.length > 0) throw new Error(failures.map((f) => f.reason).join("; "));
    const { log, lines } = progress("weaviate-classes");
    const reached: Record<string, string> = { ...(applied ?? {}) };
    try {
      await this.withClient(inputs, async (client) => {
        const existing = await this.schema(client);
        for (const want of inputs.classes) {
          const raw = existing.get(want.name);
          if (!raw) {
            await client.schema.classCreator().withClass(toWeaviate(want)).do();
            log(
              `created class ${want.name} (vectorizer ${want.vectorizer}, ${want.properties.length} properties)`,
            );
            continue;
          }
          const have = normaliseClass(raw, want.properties);
          const blocker = inPlaceBlocker(have, want);
          if (blocker) {
            const refusal = recreateRefusal(want, blocker, inputs.allowRecreate, applied);
            if (refusal) throw new Error(refusal);
            await client.schema.classDeleter().withClassName(want.name).do();
            await client.schema.classCreator().withClass(toWeaviate(want)).do();
            reached[want.name] = classFingerprint(want);
            log(`recreated class ${want.name} (${blocker}; listed in weaviate.allowRecreate)`);
            continue;
          }
          for (const p of want.properties) {
            if (have.properties.some((x) => x.name === p.name)) continue;
            await client.schema.propertyCreator().withClassName(want.name).withProperty(p).do();
            log(`added property ${want.name}.${p.name} (${p.dataType.join(",")})`);
          }
          const extra = have.properties.filter((x) => !want.properties.some((p) => p.name === x.name));
          if (extra.length > 0) {
            log(
              `kept properties ${extra.map((x) => `${want.name}.${x.name}`).join(", ")} that config no longer lists (Weaviate cannot drop them)`,
            );
          }
        }
        if (removed.length > 0)
          log(`kept classes ${removed.join(", ")} removed from config, with their objects`);
      });
    } catch (e) {
      const recreated = Object.keys(reached).filter((n) => reached[n] !== applied?.[n]);
      if (recreated.length === 0) throw e;
      throw partialFailure((e as Error).message, id, { ...inputs, applied: reached, log: lines });
    }
    const next = Object.fromEntries(inputs.classes.map((c) => [c.name, classFingerprint(c)]));
    return { ...inputs, applied: next, log: lines };
  }

  private async schema(client: WeaviateClient): Promise<Map<string, WeaviateClass>> {
    const s = (await client.schema.getter().do()) as { classes?: WeaviateClass[] };
    return new Map((s.classes ?? []).map((c) => [c.class, c]));
  }

  /**
   * Runs `fn` with a client whose key the server accepted; again, up to the deadline, when the server
   * answers 429 or 503 (shared/retry's withSession): `fn` reads the schema first on every run.
   */
  private async withClient<T>(
    inputs: WeaviateClassesInputs,
    fn: (client: WeaviateClient) => Promise<T>,
  ): Promise<T> {
    const { log } = progress("weaviate-classes");
    // Through a port-forward when `forward` says so, open for this call only.
    return withForwarder(inputs.forward, { host: inputs.host, port: inputs.port }, log, (fw) =>
      this.onClient(inputs, fw, log, fn),
    );
  }

  /** {@link withClient} with the call's forwarder. */
  private async onClient<T>(
    inputs: WeaviateClassesInputs,
    fw: Forwarder,
    log: (line: string) => void,
    fn: (client: WeaviateClient) => Promise<T>,
  ): Promise<T> {
    const w = require("weaviate-ts-client");
    return withSession(
      {
        what: `Weaviate at ${inputs.scheme}://${inputs.host}:${inputs.port}`,
        deadlineMs: inputs.timeoutSeconds * 1000,
        secrets: [inputs.apiKey],
        log,
        isFatal: (e) =>
          isForwardRefusal(e) ||
          /\b(401|403)\b|unauthori[sz]ed|forbidden/i.test(String((e as Error)?.message ?? e)),
        connect: async () => {
          const at = await fw.resolve({ host: inputs.host, port: inputs.port });
          const client = w.default.client({
            scheme: inputs.scheme,
            host: `${at.host}:${at.port}`,
            apiKey: new w.ApiKey(inputs.apiKey),
          });
          // /v1/meta needs authentication, so this proves the key as well as the connection.
          await client.misc.metaGetter().do();
          return client as WeaviateClient;
        },
        close: async () => undefined,
      },
      fn,
    );
  }
}

function toWeaviate(c: ClassSpec): WeaviateClass {
  return { class: c.name, description: c.description, vectorizer: c.vectorizer, properties: c.properties };
}

/** Arguments of {@link WeaviateClasses}. */
export interface WeaviateClassesArgs {
  /** `http` or `https`. */
  scheme: pulumi.Input<string>;
  /** Host of the Weaviate REST API. */
  host: pulumi.Input<string>;
  /** Its port. */
  port: pulumi.Input<number>;
  /** An admin API key (a secret). */
  apiKey: pulumi.Input<string>;
  /** The desired classes. */
  classes: pulumi.Input<ClassSpec[]>;
  /** Modules enabled on the server. */
  enabledModules: pulumi.Input<string[]>;
  /** Classes that may be deleted and recreated (their objects are lost). */
  allowRecreate: pulumi.Input<string[]>;
  /** Seconds to keep retrying to reach the server. */
  timeoutSeconds: pulumi.Input<number>;
  /** How to reach the server from here: a port-forward (shared/port-forward.ts); unset: as given. */
  forward?: pulumi.Input<ForwardSpec>;
}

/** The classes of the platform's Weaviate. */
export class WeaviateClasses extends pulumi.dynamic.Resource {
  /** Classes as last applied or observed. */
  declare readonly classes: pulumi.Output<ClassSpec[]>;
  /** Steps of the last create or update. */
  declare readonly log: pulumi.Output<string[]>;

  constructor(name: string, args: WeaviateClassesArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      new WeaviateClassesProvider(),
      name,
      { ...args, codeVersion: codeVersion(__filename), applied: undefined, log: undefined },
      initialiserOptions(opts, ["apiKey"]),
    );
  }
}
