import { test } from "node:test";
import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { createLogger } from "../src/log.js";
import { redactUrl } from "../src/plan/index.js";

test("logs are JSON lines and URL fields that may carry API keys are censored", () => {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(...chunk.toString().split("\n").filter(Boolean));
      done();
    },
  });
  const logger = createLogger("info", sink);
  const secret = "https://eth.example.com/v2/abcdef0123456789abcdef0123456789";
  logger.info({ url: secret, target: { name: "lb", url: secret, headers: { "X-Api-Key": "k-abcdef0123456789" } } }, "probing");
  logger.info({ where: redactUrl(secret) }, "redacted by hand");
  const [first, second] = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.equal(first?.url, "[redacted]");
  assert.deepEqual(first?.target, { name: "lb", url: "[redacted]", headers: "[redacted]" });
  assert.equal(first?.msg, "probing");
  assert.ok(!lines.join("\n").includes("abcdef0123456789"), "the key never reaches the log");
  assert.match(String(second?.where), /^https:\/\/eth\.example\.com\//);
});
