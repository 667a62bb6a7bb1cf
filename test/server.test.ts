import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import type { Report } from "../src/report/index.js";
import { REPORT_FORMATS } from "../src/report/time.js";
import { StoreReader } from "../src/store/index.js";
import { blockNumberChecks, startCanaryBed, type CanaryBed } from "./helpers/canaryBed.js";
import { waitFor } from "./helpers/waitFor.js";

const DAY = 86_400_000;
/** The plan's store: rawRetentionDays 7, rollupRetentionDays 90 (test/helpers/canaryBed.ts writes it). */
const RETENTION_DAYS = 90;

async function get(c: CanaryBed, query: string): Promise<{ status: number; body: string }> {
  const res = await fetch(`${c.daemon.url}/report?${query}`);
  return { status: res.status, body: await res.text() };
}

async function errorOf(c: CanaryBed, query: string): Promise<string> {
  const r = await get(c, query);
  assert.equal(r.status, 400, `${query}: ${r.body}`);
  return (JSON.parse(r.body) as { error: string }).error;
}

async function reportOf(c: CanaryBed, query: string): Promise<Report> {
  const r = await get(c, query);
  assert.equal(r.status, 200, `${query}: ${r.body}`);
  return JSON.parse(r.body) as Report;
}

describe("/report: input at the edges", { timeout: 150_000 }, () => {
  let c: CanaryBed;
  before(async () => {
    c = await startCanaryBed(
      { chains: [{ name: "ethereum", chainId: 1, blockTimeSec: 1, providers: ["alpha", "bravo"] }, { name: "base", chainId: 8453, blockTimeSec: 1, providers: ["alpha"] }] },
      { ethereum: blockNumberChecks("ethereum", 1, ["alpha", "bravo"]), base: blockNumberChecks("base", 8453, ["alpha"]) },
    );
  });
  after(async () => {
    await c?.stop();
  });

  const refused: { name: string; query: string; error: RegExp }[] = [
    { name: "an unknown parameter", query: "since=1h&sice=2h", error: /^unknown parameter "sice": expected since, until, chain, format, baseline$/ },
    { name: "several unknown parameters", query: "from=1h&to=now", error: /^unknown parameters "from", "to": expected since, until, chain, format, baseline$/ },
    { name: "since twice", query: "since=1h&since=2h", error: /^invalid since: given 2 times; give it once$/ },
    { name: "until twice", query: "until=1h&until=2h", error: /^invalid until: given 2 times; give it once$/ },
    { name: "chain twice", query: "chain=base&chain=base", error: /^invalid chain: given 2 times; give it once$/ },
    { name: "format twice", query: "format=md&format=json", error: /^invalid format: given 2 times; give it once$/ },
    { name: "an unknown format", query: "format=table", error: /^invalid format "table": expected json, md, html$/ },
    { name: "a chain the plan lacks", query: "chain=polygon", error: /^unknown chain "polygon": the plan's chains are base, ethereum$/ },
    { name: "a range wholly past retention", query: "since=400d&until=300d", error: /^invalid until "300d": the whole range is older than the store's retention \(90 days\)/ },
  ];
  for (const r of refused) {
    test(`400 for ${r.name}, saying what is wrong`, async () => {
      assert.match(await errorOf(c, r.query), r.error);
    });
  }

  for (const format of REPORT_FORMATS) {
    test(`format=${format} is accepted`, async () => {
      const r = await get(c, `since=1h&format=${format}`);
      assert.equal(r.status, 200, r.body);
    });
  }

  test("since beyond retention is clamped to it, and the JSON and the markdown say so", async () => {
    const before = Date.now();
    const r = await reportOf(c, "since=400d");
    const after = Date.now();
    assert.ok(r.range.since >= before - RETENTION_DAYS * DAY && r.range.since <= after - RETENTION_DAYS * DAY,
      `since clamped to now - 90 days: ${r.range.since} in [${before - RETENTION_DAYS * DAY}, ${after - RETENTION_DAYS * DAY}]`);
    assert.ok(r.range.adjusted !== null, "the report says the range was adjusted");
    const requested = r.range.adjusted.requestedSince;
    assert.ok(requested !== null && requested >= before - 400 * DAY && requested <= after - 400 * DAY, `requestedSince is 400 days back: ${requested}`);
    assert.match(r.range.adjusted.note, /^since \S+ is beyond the store's retention \(90 days\): clamped to \S+$/);
    const md = await get(c, "since=400d&format=md");
    assert.match(md.body, /^Range adjusted: since \S+ is beyond the store's retention \(90 days\): clamped to \S+\.$/m);
  });

  test("a lone until is judged on its own: since is 24h before it, and the report says so", async () => {
    const until = Math.floor(Date.now() / 1000) * 1000 - 7 * DAY;
    const r = await reportOf(c, `until=${until / 1000}`);
    assert.deepEqual([r.range.since, r.range.until], [until - DAY, until]);
    assert.deepEqual(r.range.adjusted, { requestedSince: null, note: "since not given: 24h before until" });
    const md = await get(c, `until=${until / 1000}&format=md`);
    assert.match(md.body, /^Range adjusted: since not given: 24h before until\.$/m);
  });

  test("a range as asked carries no adjustment", async () => {
    const r = await reportOf(c, "since=1h");
    assert.equal(r.range.adjusted, null);
  });

  test("data covered is the first and last sample in the store, not the requested range", async () => {
    const since = Date.now() - 1_800_000; // no whole hour inside: read from minute rollups and raw edges
    await waitFor(() => c.daemon.store.stats().written >= 10, { timeoutMs: 30_000, message: "10 samples written" });
    // An until in the past, and every probe sent before it finished (timeout 800 ms) and flushed.
    const until = Date.now();
    await waitFor(() => c.daemon.store.stats().written >= 10 && Date.now() > until + 2000, { timeoutMs: 10_000, message: "probes sent before until to finish" });
    const r = await reportOf(c, `since=${since / 1000}&until=${until / 1000}`);
    const reader = StoreReader.open(c.plan.store.path);
    let stamps: number[];
    let baseStamps: number[];
    try {
      stamps = reader.probeSamples({ since, until }).map((s) => s.ts);
      baseStamps = reader.probeSamples({ since, until, chain: "base" }).map((s) => s.ts);
    } finally {
      reader.close();
    }
    const base = await reportOf(c, `since=${since / 1000}&until=${until / 1000}&chain=base`);
    assert.deepEqual([base.coverage.from, base.coverage.to], [Math.min(...baseStamps), Math.max(...baseStamps)], "one chain's own samples");
    assert.ok(stamps.length >= 10, `samples in range: ${stamps.length}`);
    assert.deepEqual([r.coverage.from, r.coverage.to, r.coverage.samplesExact], [Math.min(...stamps), Math.max(...stamps), true]);
    assert.ok((r.coverage.from ?? 0) > since, "the first sample is after the requested since (the daemon started minutes ago at most)");
    assert.deepEqual(r.coverage.read, { from: since, to: until }, "what was read is the requested range, exact to the ms");
    const md = await get(c, `since=${since / 1000}&until=${until / 1000}&format=md`);
    assert.match(md.body, new RegExp(`^Data covered: first sample ${new Date(Math.min(...stamps)).toISOString()}, last ${new Date(Math.max(...stamps)).toISOString()} \\(minute rollups, edges exact to the millisecond\\)\\.$`, "m"));
  });
});
