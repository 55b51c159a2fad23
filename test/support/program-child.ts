/**
 * Runs the Pulumi program once under mocks in this process and prints what it registered as JSON.
 * The parent (test/support/program.ts) starts one process per run so each run gets a fresh runtime.
 * Input: env PULUMI_CONFIG (as the engine passes it) and AIPD_STACK.
 */
import * as pulumi from "@pulumi/pulumi";

interface Registered {
  type: string;
  name: string;
  inputs: Record<string, unknown>;
  provider?: string;
  /** Input paths that were Pulumi secrets. */
  secretPaths: string[];
  /** Resource options that decide what the engine does with it on delete and in state. */
  options: RecordedOptions;
  /** The id of an existing resource the program reads (`Secret.get`), else absent. */
  readId?: string;
  /** The resource's URN (parent types, type, name): what decides update or replace for the engine. */
  urn?: string;
}

/** The options the mocks cannot see, recorded by a stack transformation (`registerStackTransformation`). */
interface RecordedOptions {
  retainOnDelete?: boolean;
  protect?: boolean;
  deleteBeforeReplace?: boolean;
  ignoreChanges?: string[];
  additionalSecretOutputs?: string[];
}

const registered: Registered[] = [];
const optionsByResource = new Map<string, RecordedOptions>();
/**
 * The URN the engine gives each resource, `type::name` of the resource as key: the qualified type chains
 * the types of its parents (the mocks' own URNs keep only the nearest parent's). Absent for a type and
 * name that two resources share.
 */
const urnByKey = new Map<string, string | undefined>();
const qualifiedTypes = new WeakMap<pulumi.Resource, string>();

const SECRET_SIG = "4dabf18193072939515e22adb298388d";

/**
 * Secrets that exist "in the cluster" for reads (`Secret.get`): env AIPD_MOCK_SECRETS, JSON
 * `{"<namespace>/<name>": {"<key>": "<plain value>"}}`. Reading another fails as the engine does.
 */
const clusterSecrets = JSON.parse(process.env.AIPD_MOCK_SECRETS ?? "{}") as Record<
  string,
  Record<string, string>
>;

function readSecret(id: string): Record<string, unknown> {
  const data = clusterSecrets[id];
  if (data === undefined) throw new Error(`resource '${id}' does not exist`);
  const [namespace, name] = id.split("/");
  return {
    apiVersion: "v1",
    kind: "Secret",
    type: "Opaque",
    metadata: { name, namespace },
    data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString("base64")])),
  };
}

/** Mocks see secrets in their wire form; tests want the plain value, with secrets marked by path. */
function unwrapSecrets(value: unknown, path: string, secretPaths: string[]): unknown {
  if (Array.isArray(value)) return value.map((v, i) => unwrapSecrets(v, `${path}[${i}]`, secretPaths));
  if (value !== null && typeof value === "object") {
    const obj = value as Record<string, unknown>;
    if (SECRET_SIG in obj) {
      secretPaths.push(path);
      return unwrapSecrets(obj.value, path, secretPaths);
    }
    return Object.fromEntries(
      Object.entries(obj).map(([k, v]) => [k, unwrapSecrets(v, path ? `${path}.${k}` : k, secretPaths)]),
    );
  }
  return value;
}

pulumi.runtime.setMocks(
  {
    newResource(args: pulumi.runtime.MockResourceArgs) {
      const secretPaths: string[] = [];
      const inputs = unwrapSecrets(args.inputs, "", secretPaths) as Record<string, unknown>;
      const options = optionsByResource.get(`${args.type}::${args.name}`) ?? {};
      if (args.type !== "pulumi:pulumi:Stack") {
        registered.push({
          type: args.type,
          name: args.name,
          inputs,
          provider: args.provider,
          secretPaths,
          options,
          // Registrations carry the import id, "" when there is none.
          readId: args.id || undefined,
        });
      }
      if (args.id && args.type === "kubernetes:core/v1:Secret") {
        return { id: args.id, state: readSecret(args.id) };
      }
      const state: Record<string, unknown> = { ...args.inputs };
      if (args.type === "random:index/randomPassword:RandomPassword") {
        // Recognisable, so the tests can search every value and object for a leaked password.
        state.result = `MOCKSECRET${args.name.replace(/[^A-Za-z0-9]/g, "")}`;
      }
      return { id: `${args.name}-id`, state };
    },
    call(args: pulumi.runtime.MockCallArgs) {
      return args.inputs;
    },
  },
  "ai-platform-data",
  process.env.AIPD_STACK ?? "dev",
  false,
);

async function settle(value: unknown): Promise<{ value: unknown; secret: boolean }> {
  if (pulumi.Output.isInstance(value)) {
    const out = value as pulumi.Output<unknown>;
    const secret = await pulumi.isSecret(out);
    const inner = await new Promise<unknown>((resolve) => out.apply((v) => resolve(v)));
    const nested = await settle(inner);
    return { value: nested.value, secret: secret || nested.secret };
  }
  if (Array.isArray(value)) {
    const items = await Promise.all(value.map(settle));
    return { value: items.map((i) => i.value), secret: items.some((i) => i.secret) };
  }
  if (value !== null && typeof value === "object") {
    const entries = await Promise.all(
      Object.entries(value).map(async ([k, v]) => [k, await settle(v)] as const),
    );
    return {
      value: Object.fromEntries(entries.map(([k, v]) => [k, v.value])),
      secret: entries.some(([, v]) => v.secret),
    };
  }
  return { value, secret: false };
}

async function main(): Promise<void> {
  let exports: Record<string, unknown> = {};
  const caught: { error?: Error } = {};
  // Inside a stack resource, as the language host runs programs, so that a stack transformation sees
  // every resource's options before it is registered. A failing program is caught inside, or the stack's
  // own outputs would reject unhandled.
  await pulumi.runtime.runInPulumiStack(async () => {
    pulumi.runtime.registerStackTransformation((t) => {
      const o = t.opts as pulumi.CustomResourceOptions;
      const parentType = o.parent ? qualifiedTypes.get(o.parent) : undefined;
      const qualified = parentType ? `${parentType}$${t.type}` : t.type;
      qualifiedTypes.set(t.resource, qualified);
      const key = `${t.type}::${t.name}`;
      const stack = pulumi.getStack();
      urnByKey.set(
        key,
        urnByKey.has(key)
          ? undefined
          : `urn:pulumi:${stack}::${pulumi.getProject()}::${qualified}::${t.name}`,
      );
      optionsByResource.set(`${t.type}::${t.name}`, {
        retainOnDelete: o.retainOnDelete,
        protect: o.protect,
        deleteBeforeReplace: o.deleteBeforeReplace,
        ignoreChanges: o.ignoreChanges,
        additionalSecretOutputs: o.additionalSecretOutputs,
      });
      return undefined;
    });
    try {
      exports = await import("../../index");
    } catch (e) {
      caught.error = e as Error;
    }
    return undefined;
  });
  if (caught.error) {
    const { name, message } = caught.error;
    process.stdout.write(JSON.stringify({ error: { name, message } }));
    return;
  }
  const outputs: Record<string, { value: unknown; secret: boolean }> = {};
  for (const [k, v] of Object.entries(exports)) {
    if (k === "default" || k === "__esModule") continue;
    outputs[k] = await settle(v);
  }
  // Let pending registrations (children created inside applies) finish.
  await new Promise((r) => setTimeout(r, 200));
  for (const r of registered) r.urn = urnByKey.get(`${r.type}::${r.name}`);
  process.stdout.write(JSON.stringify({ resources: registered, outputs }));
}

/** Exit code of a run that failed with a RunError reported on stdout (see {@link reportRunError}). */
const RUN_ERROR_EXIT = 2;

/**
 * A RunError thrown inside an apply (a Secret that cannot serve, ...) fails the registration of every
 * resource that uses the value, and with it the run, as under the language host: it surfaces both as an
 * unhandled rejection and from the stack's run, whichever comes first. Reported like an error of the
 * program itself, by the name RunError (the host prints those without a stack trace). The exit code is
 * not 0: registrations are still pending, and the SDK fails a clean exit that leaves promises behind.
 */
function reportRunError(e: unknown): boolean {
  if (!pulumi.RunError.isInstance(e)) return false;
  process.stdout.write(JSON.stringify({ error: { name: "RunError", message: (e as Error).message } }));
  process.exit(RUN_ERROR_EXIT);
}

process.on("unhandledRejection", (e) => {
  if (reportRunError(e)) return;
  process.stderr.write(String((e as Error)?.stack ?? e));
  process.exit(1);
});

main().catch((e) => {
  if (reportRunError(e)) return;
  process.stderr.write(String(e?.stack ?? e));
  process.exit(1);
});
