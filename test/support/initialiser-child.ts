/**
 * Runs the Pulumi program once under mocks (a preview when AIPD_PREVIEW=true) and prints, for each
 * initialiser (dynamic resource), its inputs in the wire form the engine gets: unknown values as the
 * engine's sentinel, secrets wrapped. (test/support/program-child.ts has every other detail of a run,
 * but hands the mocks' deserialized inputs on, in which an unknown is no longer the sentinel.)
 * Input: env PULUMI_CONFIG (as the engine passes it), AIPD_STACK and AIPD_PREVIEW.
 */
import * as pulumi from "@pulumi/pulumi";

/** What the engine receives when an initialiser registers. */
export interface WireRegistration {
  name: string;
  /** Inputs as sent over the wire: `pulumi.runtime.unknownValue` for unknowns, secrets wrapped. */
  wire: Record<string, unknown>;
}

const DYNAMIC = "pulumi-nodejs:dynamic:Resource";
const preview = process.env.AIPD_PREVIEW === "true";
const registered: WireRegistration[] = [];

async function main(): Promise<void> {
  await pulumi.runtime.setMocks(
    {
      newResource(args: pulumi.runtime.MockResourceArgs) {
        const state: Record<string, unknown> = { ...args.inputs };
        // In a preview a generated password is not known yet: its `result` is left unknown.
        if (args.type === "random:index/randomPassword:RandomPassword" && !preview) {
          state.result = `MOCKSECRET${args.name.replace(/[^A-Za-z0-9]/g, "")}`;
        }
        return { id: preview ? "" : `${args.name}-id`, state };
      },
      call(args: pulumi.runtime.MockCallArgs) {
        return args.inputs;
      },
    },
    "ai-platform-data",
    process.env.AIPD_STACK ?? "dev",
    preview,
  );
  // The mocks get deserialized inputs; the request has the wire form. setMockOptions would reset the
  // mock's feature flags (secrets), so the monitor's method is wrapped in place instead.
  const monitor = pulumi.runtime.getMonitor() as unknown as {
    registerResource: (req: RegisterRequest, callback: unknown) => Promise<void>;
  };
  const register = monitor.registerResource.bind(monitor);
  monitor.registerResource = (req, callback) => {
    if (req.getType() === DYNAMIC) {
      registered.push({
        name: req.getName(),
        wire: req.getObject().toJavaScript(),
      });
    }
    return register(req, callback);
  };
  await import("../../index");
  // Let pending registrations (children created inside applies) finish.
  await new Promise((r) => setTimeout(r, 500));
  process.stdout.write(JSON.stringify(registered));
}

interface RegisterRequest {
  getType(): string;
  getName(): string;
  getObject(): { toJavaScript(): Record<string, unknown> };
}

main().catch((e) => {
  process.stderr.write(String(e?.stack ?? e));
  process.exit(1);
});
