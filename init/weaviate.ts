/**
 * Weaviate classes (seed §4.4) through the REST client `weaviate-ts-client` 2.2.0, which speaks to 1.22
 * (the v3 client needs gRPC and refuses servers below 1.23.7: REFERENCE §4). New classes and new
 * properties are added in place; a change Weaviate cannot make in place is refused unless the class is
 * listed in `allowRecreate`, which deletes and recreates it (its objects are lost).
 */
import * as pulumi from "@pulumi/pulumi";
import { inPlaceDiff } from "./shared/diff";
import { progress } from "./shared/progress";
import { describeError, withRetry } from "./shared/retry";

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
export interface WeaviateClassesInputs {
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
}

export interface WeaviateClassesOutputs extends WeaviateClassesInputs {
  log: string[];
}

type Failure = { property: string; reason: string };

/** Vectorizers that are not enabled: a clear error instead of Weaviate's 422. */
export function vectorizerFailures(
  inputs: Pick<WeaviateClassesInputs, "classes" | "enabledModules">,
): Failure[] {
  const failures: Failure[] = [];
  inputs.classes.forEach((c, i) => {
    if (c.vectorizer !== "none" && !inputs.enabledModules.includes(c.vectorizer)) {
      failures.push({
        property: `classes[${i}].vectorizer`,
        reason: `class "${c.name}" uses vectorizer "${c.vectorizer}", which is not enabled on this Weaviate (enabled: ${
          inputs.enabledModules.join(", ") || "none"
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

/** Changes refused by comparing old and new desired state (no network). */
export function refusedClassChanges(olds: ClassSpec[] | undefined, inputs: WeaviateClassesInputs): Failure[] {
  const failures: Failure[] = [];
  const before = new Map((olds ?? []).map((c) => [c.name, c]));
  inputs.classes.forEach((c, i) => {
    const old = before.get(c.name);
    if (!old || inputs.allowRecreate.includes(c.name)) return;
    const blocker = inPlaceBlocker(old, c);
    if (blocker)
      failures.push({
        property: `classes[${i}]`,
        reason: `class "${c.name}": ${blocker}. ${recreateHint(c.name)}`,
      });
  });
  return failures;
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
    return inPlaceDiff(olds, news, ["log"]);
  }

  async create(inputs: WeaviateClassesInputs): Promise<pulumi.dynamic.CreateResult> {
    return { id: `weaviate-classes-${inputs.host}:${inputs.port}`, outs: await this.converge(inputs, []) };
  }

  async update(
    _id: string,
    olds: WeaviateClassesOutputs,
    news: WeaviateClassesInputs,
  ): Promise<pulumi.dynamic.UpdateResult> {
    const removed = (olds.classes ?? [])
      .map((c) => c.name)
      .filter((n) => !news.classes.some((c) => c.name === n));
    return { outs: await this.converge(news, removed) };
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

  private async converge(inputs: WeaviateClassesInputs, removed: string[]): Promise<WeaviateClassesOutputs> {
    const failures = vectorizerFailures(inputs);
    if (failures.length > 0) throw new Error(failures.map((f) => f.reason).join("; "));
    const { log, lines } = progress("weaviate-classes");
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
          if (!inputs.allowRecreate.includes(want.name)) {
            throw new Error(`class "${want.name}" on the server: ${blocker}. ${recreateHint(want.name)}`);
          }
          await client.schema.classDeleter().withClassName(want.name).do();
          await client.schema.classCreator().withClass(toWeaviate(want)).do();
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
    return { ...inputs, log: lines };
  }

  private async schema(client: WeaviateClient): Promise<Map<string, WeaviateClass>> {
    const s = (await client.schema.getter().do()) as { classes?: WeaviateClass[] };
    return new Map((s.classes ?? []).map((c) => [c.class, c]));
  }

  private async withClient<T>(
    inputs: WeaviateClassesInputs,
    fn: (client: WeaviateClient) => Promise<T>,
  ): Promise<T> {
    const w = require("weaviate-ts-client");
    const secrets = [inputs.apiKey];
    const what = `Weaviate at ${inputs.scheme}://${inputs.host}:${inputs.port}`;
    const client = w.default.client({
      scheme: inputs.scheme,
      host: `${inputs.host}:${inputs.port}`,
      apiKey: new w.ApiKey(inputs.apiKey),
    });
    await withRetry(
      async () => {
        // /v1/meta needs authentication, so this proves the key as well as the connection.
        await client.misc.metaGetter().do();
      },
      {
        what,
        deadlineMs: inputs.timeoutSeconds * 1000,
        secrets,
        log: progress("weaviate-classes").log,
        isFatal: (e) => /\b(401|403)\b|unauthori[sz]ed|forbidden/i.test(String((e as Error)?.message ?? e)),
      },
    );
    try {
      return await fn(client);
    } catch (e) {
      throw new Error(`${what}: ${describeError(e, secrets)}`);
    }
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
}

/** The classes of the platform's Weaviate. */
export class WeaviateClasses extends pulumi.dynamic.Resource {
  /** Classes as last applied or observed. */
  declare readonly classes: pulumi.Output<ClassSpec[]>;
  /** Steps of the last create or update. */
  declare readonly log: pulumi.Output<string[]>;

  constructor(name: string, args: WeaviateClassesArgs, opts?: pulumi.CustomResourceOptions) {
    super(new WeaviateClassesProvider(), name, { ...args, log: undefined }, opts);
  }
}
