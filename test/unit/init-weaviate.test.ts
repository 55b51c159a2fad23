import * as assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  ClassSpec,
  inPlaceBlocker,
  normaliseClass,
  refusedClassChanges,
  vectorizerFailures,
  WeaviateClassesInputs,
  WeaviateClassesProvider,
} from "../../init/weaviate";
import { viaSerialization } from "../support/dynamic";

const doc: ClassSpec = {
  name: "Document",
  vectorizer: "none",
  properties: [{ name: "title", dataType: ["text"] }],
};
const base: WeaviateClassesInputs = {
  scheme: "http",
  host: "weaviate",
  port: 8088,
  apiKey: "k",
  classes: [doc],
  enabledModules: ["backup-filesystem"],
  allowRecreate: [],
  timeoutSeconds: 60,
};

describe("Weaviate classes initialiser (no server)", () => {
  it("names the module to enable when a vectorizer is off", () => {
    const f = vectorizerFailures({ ...base, classes: [{ ...doc, vectorizer: "text2vec-transformers" }] });
    assert.match(f[0].reason, /set weaviate.modules.text2vec-transformers.enabled to true, or use "none"/);
    assert.deepEqual(vectorizerFailures(base), []);
  });

  it("allows new properties in place, blocks vectorizer and type changes unless allowRecreate lists the class", () => {
    assert.equal(
      inPlaceBlocker(doc, { ...doc, properties: [...doc.properties, { name: "b", dataType: ["int"] }] }),
      undefined,
    );
    assert.match(inPlaceBlocker(doc, { ...doc, vectorizer: "img2vec-neural" })!, /vectorizer would change/);
    const changed = { ...base, classes: [{ ...doc, properties: [{ name: "title", dataType: ["int"] }] }] };
    assert.match(
      refusedClassChanges([doc], changed)[0].reason,
      /add "Document" to ai-platform-data:weaviate.allowRecreate/,
    );
    assert.deepEqual(refusedClassChanges([doc], { ...changed, allowRecreate: ["Document"] }), []);
  });

  it("normalises the server's class to config's shape and order", () => {
    const n = normaliseClass(
      {
        class: "Document",
        vectorizer: "none",
        properties: [
          { name: "b", dataType: ["text"] },
          { name: "a", dataType: ["text"], description: "A" },
        ],
      },
      [{ name: "a", dataType: ["text"] }],
    );
    assert.deepEqual(n, {
      name: "Document",
      vectorizer: "none",
      properties: [
        { name: "a", dataType: ["text"], description: "A" },
        { name: "b", dataType: ["text"] },
      ],
    });
  });

  it("diffs exactly and survives serialization", async () => {
    const { provider } = await viaSerialization(new WeaviateClassesProvider());
    assert.equal((await provider.diff!("id", { ...base, log: ["x"] }, base)).changes, false);
    assert.equal(
      (await provider.diff!("id", { ...base, log: [] }, { ...base, allowRecreate: ["Document"] })).changes,
      true,
    );
  });
});
