import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { apiStatusMessage } from "../../init/shared/pod-forwarder";

describe("the API server's refusals in forward errors", () => {
  it("reads the Status message from the raw body text client-node hands over", () => {
    const body = JSON.stringify({
      kind: "Status",
      apiVersion: "v1",
      status: "Failure",
      message: 'pods "postgresql-0" is forbidden: unable to create new content in namespace aipd',
      reason: "Forbidden",
      code: 422,
    });
    assert.equal(
      apiStatusMessage(body),
      'pods "postgresql-0" is forbidden: unable to create new content in namespace aipd',
    );
    assert.equal(
      apiStatusMessage({ message: "etcdserver: request timed out" }),
      "etcdserver: request timed out",
    );
  });

  it("says nothing when the body has no message", () => {
    for (const body of [
      undefined,
      null,
      "",
      "<html>bad gateway</html>",
      "{}",
      '{"message":""}',
      { message: 3 },
    ])
      assert.equal(apiStatusMessage(body), undefined);
  });
});
