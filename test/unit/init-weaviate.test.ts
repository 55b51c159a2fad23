import * as assert from "node:assert/strict";
import { describe, it } from "node:test";
import { UNKNOWN } from "../../init/shared/unknown";
import {
  appliedFingerprints,
  classFingerprint,
  ClassSpec,
  inPlaceBlocker,
  normaliseClass,
  recreateRefusal,
  refusedClassChanges,
  vectorizerFailures,
  WeaviateClassesInputs,
  WeaviateClassesProvider,
} from "../../init/weaviate";
import { serializedOnce } from "../support/unit-serialized";

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

/** The provider as the engine's host loads it, serialized once for the whole file. */
const serialized = serializedOnce(() => new WeaviateClassesProvider());

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
    const { provider } = await serialized();
    assert.equal((await provider.diff!("id", { ...base, log: ["x"] }, base)).changes, false);
    assert.equal(
      (await provider.diff!("id", { ...base, log: [] }, { ...base, allowRecreate: ["Document"] })).changes,
      true,
    );
  });

  it("allowRecreate recreates once per change of config, never in create nor for a class it never applied", () => {
    const typed = { ...doc, properties: [{ name: "title", dataType: ["int"] }] };
    const blocker = inPlaceBlocker(doc, typed)!;
    const applied = { Document: classFingerprint(doc) };
    // Not listed: refused with the way to opt in.
    assert.match(
      recreateRefusal(typed, blocker, [], applied)!,
      /add "Document" to ai-platform-data:weaviate.allowRecreate/,
    );
    // Listed, and config changed since the definition last applied: recreate.
    assert.equal(recreateRefusal(typed, blocker, ["Document"], applied), undefined);
    // Listed, but config's definition is the one already applied: the mismatch lasts, no second recreate.
    const after = { Document: classFingerprint(typed) };
    assert.match(
      recreateRefusal(typed, blocker, ["Document"], after)!,
      /definition is the one already applied, so it is not recreated again/,
    );
    // create (no record) or a class this resource never applied: never deleted.
    assert.match(
      recreateRefusal(typed, blocker, ["Document"], undefined)!,
      /has not applied this class before/,
    );
    assert.match(
      recreateRefusal(typed, blocker, ["Document"], {})!,
      /never deletes a class it has not defined/,
    );
  });

  it("fingerprints a definition regardless of property order; older states fall back to their classes", () => {
    const two = { ...doc, properties: [...doc.properties, { name: "b", dataType: ["int"] }] };
    const reordered = { ...two, properties: [...two.properties].reverse() };
    assert.equal(classFingerprint(two), classFingerprint(reordered));
    assert.notEqual(classFingerprint(two), classFingerprint(doc));
    assert.deepEqual(appliedFingerprints({ classes: [doc] }), { Document: classFingerprint(doc) });
    assert.deepEqual(appliedFingerprints({ classes: [doc], applied: { Document: "x" } }), { Document: "x" });
  });

  it("check defers what a preview does not know yet, and checks the rest", async () => {
    const { provider } = await serialized();
    const preview = {
      ...base,
      apiKey: UNKNOWN,
      host: UNKNOWN,
      enabledModules: UNKNOWN,
      allowRecreate: UNKNOWN,
    };
    const changed = { ...preview, classes: [{ ...doc, vectorizer: "text2vec-openai" }] };
    assert.deepEqual((await provider.check!(base, changed as never)).failures, []);
    const known = { ...base, apiKey: UNKNOWN, classes: [{ ...doc, vectorizer: "text2vec-openai" }] };
    assert.equal((await provider.check!(base, known)).failures!.length, 2);
  });
});
