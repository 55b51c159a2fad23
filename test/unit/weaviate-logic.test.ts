/**
 * The Weaviate classes initialiser's check, through its serialized form as Pulumi's dynamic-provider host
 * runs it: refusals made before anything connects (moved from test/integration/weaviate.test.ts; the
 * address is a loopback port nothing answers on, so a check that connected would fail instead).
 */
import * as assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ClassSpec, WeaviateClassesInputs, WeaviateClassesProvider } from "../../init/weaviate";
import { viaSerialization } from "../support/dynamic";

const cls = (name: string, props: string[]): ClassSpec => ({
  name,
  description: "a class",
  vectorizer: "none",
  properties: props.map((p) => ({ name: p, dataType: ["text"], description: `the ${p}` })),
});

function inputs(classes: ClassSpec[], extra: Partial<WeaviateClassesInputs> = {}): WeaviateClassesInputs {
  return {
    scheme: "http",
    host: "127.0.0.1",
    port: 9,
    apiKey: "unused",
    classes,
    enabledModules: ["backup-filesystem"],
    allowRecreate: [],
    timeoutSeconds: 30,
    ...extra,
  };
}

describe("Weaviate classes initialiser: check refuses before connecting", () => {
  it("refuses a vectorizer change of an existing class, naming allowRecreate", async () => {
    const { provider } = await viaSerialization(new WeaviateClassesProvider());
    const doc = cls("Doc", ["title", "content", "source"]);
    const vec = { ...doc, vectorizer: "text2vec-transformers" };
    const enabled = { enabledModules: ["backup-filesystem", "text2vec-transformers"] };
    const check = await provider.check!(inputs([doc]), inputs([vec], enabled));
    assert.equal(check.failures!.length, 1);
    assert.match(
      check.failures![0].reason,
      /vectorizer would change from "none" to "text2vec-transformers".*allowRecreate/,
    );
    // The same change allowed to recreate the class passes check.
    const allowed = await provider.check!(
      inputs([doc]),
      inputs([vec], { ...enabled, allowRecreate: ["Doc"] }),
    );
    assert.deepEqual(allowed.failures, []);
  });

  it("refuses a vectorizer whose module is off, naming the setting that enables it", async () => {
    const { provider } = await viaSerialization(new WeaviateClassesProvider());
    const img = { ...cls("Img", ["title"]), vectorizer: "img2vec-neural" };
    const check = await provider.check!({}, inputs([img]));
    assert.match(
      check.failures![0].reason,
      /uses vectorizer "img2vec-neural", which is not enabled.*weaviate.modules.img2vec-neural.enabled/,
    );
    const on = await provider.check!({}, inputs([img], { enabledModules: ["img2vec-neural"] }));
    assert.deepEqual(on.failures, []);
  });
});
