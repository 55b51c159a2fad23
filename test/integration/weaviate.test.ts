/**
 * Weaviate classes initialiser against the real Weaviate 1.22 of scripts/services.sh (API-key auth),
 * driven through its serialized form as Pulumi's dynamic-provider host runs it.
 */
import * as assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import {
  ClassSpec,
  WeaviateClassesInputs,
  WeaviateClassesOutputs,
  WeaviateClassesProvider,
} from "../../init/weaviate";
import { viaSerialization } from "../support/dynamic";
import { closedPort, lateProxy, requireServer, Services } from "../support/servers";
import { failsAtOnce } from "../support/stderr";

const run = randomBytes(3).toString("hex").toUpperCase();

function inputs(
  svc: Services["weaviate"],
  classes: ClassSpec[],
  extra: Partial<WeaviateClassesInputs> = {},
): WeaviateClassesInputs {
  return {
    scheme: svc.scheme,
    host: svc.host,
    port: svc.port,
    apiKey: svc.apiKey,
    classes,
    enabledModules: ["backup-filesystem"],
    allowRecreate: [],
    timeoutSeconds: 30,
    ...extra,
  };
}

async function rest(svc: Services["weaviate"], method: string, path: string, body?: unknown) {
  const res = await fetch(`${svc.scheme}://${svc.host}:${svc.port}${path}`, {
    method,
    headers: { Authorization: `Bearer ${svc.apiKey}`, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : undefined };
}

const cls = (suffix: string, props: string[] = ["title"]): ClassSpec => ({
  name: `It${run}${suffix}`,
  description: "integration test class",
  vectorizer: "none",
  properties: props.map((p) => ({ name: p, dataType: ["text"], description: `the ${p}` })),
});

describe("Weaviate classes initialiser (real Weaviate 1.22)", () => {
  it("creates, is idempotent, adds properties, refuses or recreates on a vectorizer change, keeps data", async (t) => {
    const svc = await requireServer(t, "weaviate");
    if (!svc) return;
    const { provider } = await viaSerialization(new WeaviateClassesProvider());
    const doc = cls("Doc", ["title", "content"]);
    const created = await provider.create!(inputs(svc, [doc]));
    const outs = created.outs as WeaviateClassesOutputs;
    assert.deepEqual(outs.log, [`created class ${doc.name} (vectorizer none, 2 properties)`]);
    const got = await rest(svc, "GET", `/v1/schema/${doc.name}`);
    assert.equal(got.status, 200);
    assert.deepEqual(
      got.json.properties.map((p: { name: string }) => p.name),
      ["title", "content"],
    );

    // An object, to prove data survives what follows.
    const obj = await rest(svc, "POST", "/v1/objects", {
      class: doc.name,
      properties: { title: "kept" },
      vector: [0.1, 0.2],
    });
    assert.equal(obj.status, 200);

    assert.equal((await provider.diff!(created.id, outs, inputs(svc, [doc]))).changes, false);
    const rerun = await provider.update!(created.id, outs, inputs(svc, [doc]));
    assert.deepEqual((rerun.outs as WeaviateClassesOutputs).log, []);

    // A new property is added in place.
    const doc2 = { ...doc, properties: [...doc.properties, { name: "source", dataType: ["text"] }] };
    const upd = await provider.update!(created.id, outs, inputs(svc, [doc2]));
    assert.deepEqual((upd.outs as WeaviateClassesOutputs).log, [`added property ${doc.name}.source (text)`]);

    // Refresh reports what the server has.
    const read = await provider.read!(created.id, upd.outs as WeaviateClassesOutputs);
    const observed = (read.props as WeaviateClassesOutputs).classes[0];
    assert.deepEqual(
      observed.properties.map((p) => p.name),
      ["title", "content", "source"],
    );
    assert.equal(
      (await provider.diff!(created.id, read.props as WeaviateClassesOutputs, inputs(svc, [doc2]))).changes,
      false,
    );

    // A property type change is refused at run time, nothing changes (a vectorizer change is refused
    // in check already: test/unit/weaviate-logic.test.ts).
    const typeChange = {
      ...doc2,
      properties: [{ name: "title", dataType: ["int"] }, ...doc2.properties.slice(1)],
    };
    await assert.rejects(
      provider.update!(created.id, upd.outs as WeaviateClassesOutputs, inputs(svc, [typeChange])),
      /property "title" would change type.*allowRecreate/,
    );
    assert.equal((await rest(svc, "GET", `/v1/objects/${doc.name}/${obj.json.id}`)).status, 200);

    // Removing the class from config, and delete, keep it and its objects.
    const other = cls("Other");
    const removed = await provider.update!(
      created.id,
      upd.outs as WeaviateClassesOutputs,
      inputs(svc, [other]),
    );
    assert.ok(
      (removed.outs as WeaviateClassesOutputs).log.includes(
        `kept classes ${doc.name} removed from config, with their objects`,
      ),
    );
    await provider.delete!(created.id, removed.outs as WeaviateClassesOutputs);
    assert.equal((await rest(svc, "GET", `/v1/objects/${doc.name}/${obj.json.id}`)).status, 200);

    // Opted in: the class is recreated with the new property type.
    const re = await provider.update!(
      created.id,
      upd.outs as WeaviateClassesOutputs,
      inputs(svc, [typeChange], { allowRecreate: [doc.name] }),
    );
    assert.match((re.outs as WeaviateClassesOutputs).log[0], /^recreated class/);
    const after = await rest(svc, "GET", `/v1/schema/${doc.name}`);
    assert.deepEqual(after.json.properties.find((p: { name: string }) => p.name === "title").dataType, [
      "int",
    ]);

    await rest(svc, "DELETE", `/v1/schema/${doc.name}`);
    await rest(svc, "DELETE", `/v1/schema/${other.name}`);
  });

  it("allowRecreate recreates once per change of config: not again while a mismatch lasts, not on create", async (t) => {
    const svc = await requireServer(t, "weaviate");
    if (!svc) return;
    const { provider } = await viaSerialization(new WeaviateClassesProvider());
    const doc = cls("Once", ["title"]);
    const asInt = { ...doc, properties: [{ name: "title", dataType: ["int"] }] };
    const opted = { allowRecreate: [doc.name] };
    const created = await provider.create!(inputs(svc, [doc], opted));
    const first = await provider.update!(created.id, created.outs, inputs(svc, [asInt], opted));
    let outs = first.outs as WeaviateClassesOutputs;
    assert.match(outs.log[0], /^recreated class/);

    // The server goes back to text (restored by hand, say) and gets new objects: the mismatch lasts.
    assert.equal((await rest(svc, "DELETE", `/v1/schema/${doc.name}`)).status, 200);
    await rest(svc, "POST", "/v1/schema", {
      class: doc.name,
      vectorizer: "none",
      properties: doc.properties,
    });
    const obj = await rest(svc, "POST", "/v1/objects", { class: doc.name, properties: { title: "new" } });
    assert.equal(obj.status, 200);
    const objectKept = async () =>
      assert.equal((await rest(svc, "GET", `/v1/objects/${doc.name}/${obj.json.id}`)).status, 200);

    // Any later update with the same config (here new initialiser code) refuses instead of recreating.
    const again = inputs(svc, [asInt], { ...opted, codeVersion: "sha256:next" });
    await assert.rejects(provider.update!(created.id, outs, again), /not recreated again/);
    await objectKept();
    // Refresh does not make it forget what it applied.
    const read = (await provider.read!(created.id, outs)).props as WeaviateClassesOutputs;
    await assert.rejects(provider.update!(created.id, read, again), /not recreated again/);
    await objectKept();
    // Nor does a new resource (a rename, a new stack) delete a class it never applied.
    await assert.rejects(provider.create!(inputs(svc, [asInt], opted)), /has not applied this class before/);
    await objectKept();

    // A new change of config is recreated, once.
    const asNumber = { ...doc, properties: [{ name: "title", dataType: ["number"] }] };
    outs = (await provider.update!(created.id, read, inputs(svc, [asNumber], opted)))
      .outs as WeaviateClassesOutputs;
    assert.match(outs.log[0], /^recreated class/);
    await rest(svc, "DELETE", `/v1/schema/${doc.name}`);
  });

  it("gives a clear error for a vectorizer module that is off, not Weaviate's 422", async (t) => {
    const svc = await requireServer(t, "weaviate");
    if (!svc) return;
    const { provider } = await viaSerialization(new WeaviateClassesProvider());
    const img = { ...cls("Img"), vectorizer: "img2vec-neural" };
    // check refuses it too, before connecting: test/unit/weaviate-logic.test.ts.
    await assert.rejects(provider.create!(inputs(svc, [img])), /not enabled on this Weaviate/);
    assert.equal((await rest(svc, "GET", `/v1/schema/${img.name}`)).status, 404);
  });

  it("waits for a server that starts late", async (t) => {
    const svc = await requireServer(t, "weaviate");
    if (!svc) return;
    // Serialized before the proxy's clock starts: on a busy machine that alone can outlast its delay.
    const { provider } = await viaSerialization(new WeaviateClassesProvider());
    const proxy = await lateProxy({ host: svc.host, port: svc.port }, 3000);
    try {
      const late = cls("Late");
      await provider.create!(inputs({ ...svc, port: proxy.port }, [late]));
      assert.ok(proxy.accepted() > 0, "the server that started late was never reached");
      assert.equal((await rest(svc, "GET", `/v1/schema/${late.name}`)).status, 200);
      await rest(svc, "DELETE", `/v1/schema/${late.name}`);
    } finally {
      proxy.close();
    }
  });

  it("fails clearly when the server stays down past the deadline", async (t) => {
    const svc = await requireServer(t, "weaviate");
    if (!svc) return;
    const port = await closedPort();
    const { provider } = await viaSerialization(new WeaviateClassesProvider());
    await assert.rejects(
      provider.create!(inputs({ ...svc, port }, [cls("Down")], { timeoutSeconds: 3 })),
      (e: Error) => {
        assert.match(
          e.message,
          new RegExp(`Weaviate at http://127.0.0.1:${port} not reachable after \\d+ attempts`),
        );
        assert.ok(!e.message.includes(svc.apiKey));
        return true;
      },
    );
  });

  it("fails at once on a wrong API key, without the key in the error", async (t) => {
    const svc = await requireServer(t, "weaviate");
    if (!svc) return;
    const wrong = `wrong${randomBytes(8).toString("hex")}`;
    const { provider } = await viaSerialization(new WeaviateClassesProvider());
    const e = await failsAtOnce(() => provider.create!(inputs({ ...svc, apiKey: wrong }, [cls("Auth")])));
    assert.match(e.message, /401/);
    assert.ok(!e.message.includes(wrong));
  });

  it("converges after a run that stopped half way", async (t) => {
    const svc = await requireServer(t, "weaviate");
    if (!svc) return;
    const a = cls("HalfA", ["x", "y"]);
    const b = cls("HalfB");
    // Half way: A exists with only one of its properties, B not at all.
    await rest(svc, "POST", "/v1/schema", {
      class: a.name,
      vectorizer: "none",
      properties: [a.properties[0]],
    });
    const { provider } = await viaSerialization(new WeaviateClassesProvider());
    const res = await provider.create!(inputs(svc, [a, b]));
    assert.deepEqual((res.outs as WeaviateClassesOutputs).log, [
      `added property ${a.name}.y (text)`,
      `created class ${b.name} (vectorizer none, 1 properties)`,
    ]);
    await rest(svc, "DELETE", `/v1/schema/${a.name}`);
    await rest(svc, "DELETE", `/v1/schema/${b.name}`);
  });
});
