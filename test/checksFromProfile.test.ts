import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parse as parseYaml, parseAllDocuments } from "yaml";
import { loadPlan, type Plan } from "../src/plan/index.js";
import { BudgetError, generateChecks, ProfileError, readLassoProfile, writeChecksFiles, ExistingFilesError, type GeneratedChecks } from "../src/profile/index.js";

const FIXTURES = "test/fixtures/profiles";
const PUBLIC = path.join(FIXTURES, "public.yml");
const DATE = new Date("2026-03-04T05:06:07Z");
const CLI = ["--import", "tsx", "src/cli.ts"];

function cli(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [...CLI, ...args], { encoding: "utf8", timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function tmpDir(): string {
  return mkdtempSync(path.join(os.tmpdir(), "canary-profile-test-"));
}

function generate(file: string, opts: { budget?: number; targetCount?: number } = {}): GeneratedChecks[] {
  return generateChecks(readLassoProfile(file), { budget: opts.budget ?? 2, budgetSource: "test budget", targetCount: opts.targetCount ?? 1, version: "9.8.7", date: DATE });
}

/** A daemon config with `targets` targets and this budget next to a checks dir holding `files`; the plan as `validate` loads it. */
function loadGenerated(files: GeneratedChecks[], budget: number, targets = 1): Plan {
  const dir = tmpDir();
  try {
    mkdirSync(path.join(dir, "checks"));
    for (const f of files) writeFileSync(path.join(dir, "checks", f.fileName), f.text);
    writeConfig(dir, budget, targets);
    return loadPlan(path.join(dir, "canary.yaml"), {});
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function writeConfig(dir: string, budget: number, targets: number): string {
  const list = Array.from({ length: targets }, (_, i) => `  - { name: t${i}, url: "http://127.0.0.1:1/${i}" }`).join("\n");
  const file = path.join(dir, "canary.yaml");
  writeFileSync(file, `targets:\n${list}\nbudget: { maxRequestsPerSecondPerChain: ${budget} }\nchecks: checks\nstore: { path: canary.db }\n`);
  return file;
}

interface ChecksDoc {
  chain: string;
  chainId: number;
  blockTimeMs: string;
  routes: { strategy?: string; provider?: string; profile?: string }[];
  probes: { method: string; interval: string; routes: unknown; assert: unknown[] }[];
  consistency?: unknown;
  watchers?: { subscription: string; routes: string[] }[];
}

function doc(f: GeneratedChecks): ChecksDoc {
  return parseYaml(f.text) as ChecksDoc;
}

function byChain(files: GeneratedChecks[]): Map<string, GeneratedChecks> {
  return new Map(files.map((f) => [f.chain, f]));
}

/** The number the header states: `# Planned rate: 1.234 req/s ...`. */
function statedRate(f: GeneratedChecks): number {
  const m = /^# Planned rate: ([\d.]+) req\/s for (\d+) targets?, within the budget of ([\d.]+) req\/s per chain$/m.exec(f.text);
  assert.ok(m !== null, `the header states the planned rate:\n${f.text.slice(0, 800)}`);
  return Number(m[1]);
}

test("a public profile gives one checks file per chain, named after the chain", () => {
  const files = generate(PUBLIC);
  assert.deepEqual(files.map((f) => f.fileName), ["ethereum.yaml", "base.yaml", "arbitrum.yaml"]);
  const ids = files.map((f) => [doc(f).chain, doc(f).chainId, doc(f).blockTimeMs]);
  assert.deepEqual(ids, [
    ["ethereum", 1, "12s"],
    ["base", 8453, "2s"],
    ["arbitrum", 42161, "250ms"],
  ]);
});

test("routes: default and fastest strategies plus one pin per provider, in the profile's order", async (t) => {
  const chains = byChain(generate(PUBLIC));
  const expected: Record<string, string[]> = {
    ethereum: ["eth_alpha", "eth_bravo", "eth_charlie", "eth_delta", "eth_echo"],
    base: ["base_alpha", "base_bravo", "base_charlie"],
    arbitrum: ["arb_alpha", "arb_bravo", "arb_charlie"],
  };
  for (const [chain, providers] of Object.entries(expected)) await t.test(chain, () => {
    const routes = doc(chains.get(chain) as GeneratedChecks).routes;
    assert.deepEqual(routes, [{ strategy: "default" }, { strategy: "fastest" }, ...providers.map((provider) => ({ provider }))], chain);
  });
});

test("newHeads pins only for providers with ws_url and subscribe_new_heads (own or the chain's)", async (t) => {
  const chains = byChain(generate(PUBLIC));
  const cases: [string, string[] | null][] = [
    // eth_bravo has no flag and inherits the chain's websocket.subscribe_new_heads: true;
    // eth_charlie says false; eth_delta says true but has no ws_url; eth_echo has neither.
    ["ethereum", ["default", "pin:eth_alpha", "pin:eth_bravo"]],
    // base's websocket.subscribe_new_heads is false: base_alpha (ws_url, no flag) inherits it.
    ["base", ["default", "pin:base_bravo"]],
    // no arbitrum provider can serve newHeads: no watcher at all, it is left commented.
    ["arbitrum", null],
  ];
  for (const [chain, routes] of cases) {
    await t.test(chain, () => {
      const f = chains.get(chain) as GeneratedChecks;
      const d = doc(f);
      if (routes === null) {
        assert.equal(d.watchers, undefined, "no watchers");
        assert.equal((d as { watch?: unknown }).watch, undefined, "no watch options without watchers");
        assert.match(f.text, /^# No newHeads watcher: no provider of arbitrum can serve subscriptions/m);
        assert.match(f.text, /^# {3}- \{ subscription: newHeads, routes: \[default\] \}$/m);
      } else {
        assert.deepEqual(d.watchers, [{ subscription: "newHeads", routes }]);
      }
    });
  }
  await t.test("the providers left out are named with the reason", () => {
    const text = (chains.get("ethereum") as GeneratedChecks).text;
    const notPinned = /^# Not pinned[^\n]*(\n#[^\n]*)*/m.exec(text)?.[0] ?? "";
    assert.match(notPinned, /eth_charlie \(subscribe_new_heads off\)/);
    assert.match(notPinned, /eth_delta \(no ws_url\)/);
    assert.match(notPinned, /eth_echo \(no ws_url\)/);
    assert.doesNotMatch(notPinned, /eth_alpha|eth_bravo/);
  });
});

test("a logs watcher is left as a commented example in every file", () => {
  for (const f of generate(PUBLIC)) {
    assert.match(f.text, /^ *# *- subscription: logs$/m, f.fileName);
    assert.match(f.text, /^ *# +filter:$/m, f.fileName);
    assert.ok(!(doc(f).watchers ?? []).some((w) => w.subscription === "logs"), `${f.fileName}: no live logs watcher`);
  }
});

test("probes: eth_blockNumber on all routes, eth_chainId on pins, latest block on strategies; consistency with >= 2 providers", () => {
  const d = doc(byChain(generate(PUBLIC)).get("ethereum") as GeneratedChecks);
  assert.deepEqual(
    d.probes.map((p) => [p.method, p.routes, p.assert]),
    [
      ["eth_blockNumber", "all", [{ shape: "quantity" }, "monotonicHead", "freshness"]],
      ["eth_chainId", "pinned", ["chainId"]],
      ["eth_getBlockByNumber", "strategies", [{ shape: "block" }]],
    ],
  );
  assert.ok(d.consistency !== undefined, "consistency across the pinned providers");
});

test("the header says where the file came from and that it is a starting point", () => {
  const f = generate(PUBLIC)[0] as GeneratedChecks;
  const header = f.text.slice(0, f.text.indexOf("\nchain:"));
  assert.match(header, /^# ethereum\.yaml: lasso-canary checks for chain "ethereum" \(Ethereum Mainnet\),$/m);
  assert.match(header, /lasso-canary 9\.8\.7 checks-from-profile on 2026-03-04 from the Lasso profile\n# public\.yml \(slug "public", Public RPC\)\./);
  assert.match(header, /A starting point to edit/);
  assert.match(header, /within the budget of 2 req\/s per chain\n# \(test budget\)\./);
});

test("provider URLs and their ${ENV} never reach the generated checks", () => {
  for (const f of generate(PUBLIC)) {
    assert.doesNotMatch(f.text, /example\.invalid|_KEY|\$\{|https?:|wss?:/, f.fileName);
  }
});

test("the generated files pass validation, and each chain's planned rate is within the budget and stated", async (t) => {
  for (const [budget, targets] of [
    [2, 1],
    [2, 3],
    [0.6, 1],
  ] as const) {
    await t.test(`budget ${budget} req/s, ${targets} target(s)`, () => {
      const files = generate(PUBLIC, { budget, targetCount: targets });
      const plan = loadGenerated(files, budget, targets);
      assert.deepEqual(plan.chains.map((c) => c.chain), ["arbitrum", "base", "ethereum"]);
      for (const f of files) {
        const planned = plan.ratePerChain[f.chain] as number;
        assert.ok(planned <= budget, `${f.chain}: ${planned} req/s <= ${budget}`);
        assert.ok(Math.abs(statedRate(f) - planned) < 0.0005, `${f.chain}: header says ${statedRate(f)}, the plan ${planned}`);
        assert.match(f.text, new RegExp(`for ${targets} targets?, within the budget of ${budget} req/s`));
      }
    });
  }
});

test("intervals are lengthened just enough to fit a smaller budget", () => {
  // ethereum: 2 strategies + 5 pins, 12 s blocks, 1 target. By hand: at the block-time
  // defaults (blockNumber 12s, chainId 60s, latest block 30s, consistency 60s, head poll 12s,
  // 3 confirmations/min) it plans 7/12 + 5/60 + 2/30 + 5/60 + 1/12 + 3/60 = 0.95 req/s;
  // x1.5 gives 0.65, x2 gives 0.5. With a budget of 0.6 the first fit is x2.
  const at = (budget: number): GeneratedChecks => byChain(generate(PUBLIC, { budget })).get("ethereum") as GeneratedChecks;
  const roomy = at(2);
  assert.equal(statedRate(roomy), 0.95);
  assert.doesNotMatch(roomy.text, /lengthened/);
  const tight = at(0.6);
  assert.equal(statedRate(tight), 0.5);
  assert.match(tight.text, /^# Intervals were lengthened x2 from the block-time defaults to fit it\.$/m);
  assert.deepEqual(doc(tight).probes.map((p) => p.interval), ["24s", "2m", "1m"]);
  assert.match(tight.text, /^watch: \{ headPollInterval: 24s, /m);
  assert.deepEqual(at(0.6).text, tight.text, "deterministic");
});

test("a budget that cannot be met even at the longest intervals is refused, naming the chain", () => {
  assert.throws(
    () => generate(PUBLIC, { budget: 0.01 }),
    (err: unknown) => err instanceof BudgetError && /public\.yml: chains\.ethereum: .*over the budget of 0\.01 req\/s per chain/.test(err.message),
  );
});

test("a non-public profile: every route carries the profile, no consistency (public pins only)", () => {
  const [f, ...rest] = generate(path.join(FIXTURES, "canary.yml"));
  assert.equal(rest.length, 0);
  const d = doc(f as GeneratedChecks);
  assert.deepEqual(d.routes, [
    { strategy: "default", profile: "canary" },
    { strategy: "fastest", profile: "canary" },
    { provider: "proxy_alpha", profile: "canary" },
    { provider: "proxy_bravo", profile: "canary" },
  ]);
  assert.equal(d.consistency, undefined);
  assert.deepEqual(d.watchers, [{ subscription: "newHeads", routes: ["canary/default", "canary/pin:proxy_alpha"] }]);
  assert.equal(loadGenerated([f as GeneratedChecks], 2).chains[0]?.routes.every((r) => r.path.startsWith("/rpc/profile/canary/")), true);
});

test("a profile without frontmatter (legacy format) is the public profile", () => {
  const dir = tmpDir();
  try {
    const file = path.join(dir, "public.yml");
    writeFileSync(file, "chains:\n  base:\n    chain_id: 8453\n    providers:\n      - id: a\n        url: https://a.example.invalid\n      - id: b\n        url: https://b.example.invalid\n");
    const profile = readLassoProfile(file);
    assert.equal(profile.slug, "public");
    const [f] = generateChecks(profile, { budget: 2, budgetSource: "x", targetCount: 1, version: "0", date: DATE });
    assert.deepEqual(doc(f as GeneratedChecks).routes, [{ strategy: "default" }, { strategy: "fastest" }, { provider: "a" }, { provider: "b" }]);
    assert.match((f as GeneratedChecks).text, /^blockTimeMs: 12s +# not in the profile: assumed/m);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("bad profiles: the error names the file, the path inside it and what is wrong", async (t) => {
  const fixture = (name: string): [string, string] => [path.join(FIXTURES, name), path.join(FIXTURES, name)];
  const cases: [string, [string, string] | string, RegExp][] = [
    ["missing chain_id", fixture("missing-chain-id.yml"), /^test\/fixtures\/profiles\/missing-chain-id\.yml: chains\.base\.chain_id: is required.* \(line 13\)$/],
    ["provider without id", fixture("provider-without-id.yml"), /^test\/fixtures\/profiles\/provider-without-id\.yml: chains\.ethereum\.providers\[1\]\.id: is required.* \(line 12\)$/],
    ["bad YAML", fixture("bad-yaml.yml"), /^test\/fixtures\/profiles\/bad-yaml\.yml: YAML syntax error: .* \(line 10\)$/],
    ["frontmatter never closed", "---\nname: x\nslug: x\nchains: {}\n", /x\.yml: starts with "---" \(frontmatter\) but no line "---" closes it/],
    ["frontmatter without slug", "---\nname: x\n---\nchains:\n  base: { chain_id: 8453, providers: [{ id: a }] }\n", /x\.yml: slug: is required in the frontmatter.* \(line 2\)$/],
    ["chains not a mapping", "---\nslug: x\n---\nchains:\n  - base\n", /x\.yml: chains: must be a mapping of chain name .*got a list \(line 5\)$/],
    ["chain_id not a number", "---\nslug: x\n---\nchains:\n  base:\n    chain_id: \"8453\"\n    providers: [{ id: a }]\n", /x\.yml: chains\.base\.chain_id: must be a positive whole number .*got the string "8453" \(line 6\)$/],
    ["duplicate provider id", "---\nslug: x\n---\nchains:\n  base:\n    chain_id: 8453\n    providers:\n      - id: a\n      - id: a\n", /x\.yml: chains\.base\.providers\[1\]\.id: duplicate provider id "a" \(same as providers\[0\]\).* \(line 9\)$/],
    ["provider id unusable in a route", "---\nslug: x\n---\nchains:\n  base:\n    chain_id: 8453\n    providers:\n      - id: \"a/b\"\n", /x\.yml: chains\.base\.providers\[0\]\.id: "a\/b" cannot be used in a pinned route/],
    ["no providers", "---\nslug: x\n---\nchains:\n  base:\n    chain_id: 8453\n", /x\.yml: chains\.base\.providers: has no providers/],
    ["a second document after the chains", "---\nslug: x\n---\nchains:\n  base: { chain_id: 8453, providers: [{ id: a }] }\n---\nmore: 1\n", /x\.yml: the part after the frontmatter holds more than one YAML document/],
  ];
  for (const [name, input, expected] of cases) {
    await t.test(name, () => {
      const dir = tmpDir();
      try {
        let file: string;
        if (typeof input === "string") {
          file = path.join(dir, "x.yml");
          writeFileSync(file, input);
        } else file = input[0];
        assert.throws(
          () => readLassoProfile(file),
          (err: unknown) => {
            assert.ok(err instanceof ProfileError, `a ProfileError, got ${String(err)}`);
            assert.ok(err.issues.length >= 1, "at least one issue");
            const lines = err.message.split("\n");
            assert.ok(lines.some((l) => expected.test(l)), `one line matches ${expected}:\n${err.message}`);
            return true;
          },
        );
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});

test("every problem in a profile is listed in one run", () => {
  const dir = tmpDir();
  try {
    const file = path.join(dir, "x.yml");
    writeFileSync(file, "---\nslug: x\n---\nchains:\n  base:\n    providers: [{ id: a }]\n  ethereum:\n    chain_id: 1\n    providers: [{ url: u }]\n");
    assert.throws(
      () => readLassoProfile(file),
      (err: unknown) => err instanceof ProfileError && err.issues.map((i) => i.path).join(",") === "chains.base.chain_id,chains.ethereum.providers[0].id",
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("writeChecksFiles refuses to overwrite, naming every existing file, and writes nothing", () => {
  const dir = tmpDir();
  try {
    const files = generate(PUBLIC);
    writeFileSync(path.join(dir, "base.yaml"), "mine\n");
    writeFileSync(path.join(dir, "arbitrum.yaml"), "mine too\n");
    assert.throws(
      () => writeChecksFiles(files, dir, { force: false }),
      (err: unknown) => err instanceof ExistingFilesError && err.files.map((f) => path.basename(f)).join(",") === "base.yaml,arbitrum.yaml",
    );
    assert.deepEqual(readdirSync(dir).sort(), ["arbitrum.yaml", "base.yaml"], "ethereum.yaml not written either");
    assert.equal(readFileSync(path.join(dir, "base.yaml"), "utf8"), "mine\n");
    writeChecksFiles(files, dir, { force: true });
    assert.equal(readFileSync(path.join(dir, "base.yaml"), "utf8"), byChain(files).get("base")?.text);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// ---------------------------------------------------------------- CLI

test("CLI: without --out the checks go to stdout as one valid multi-document checks file", () => {
  const r = cli(["checks-from-profile", PUBLIC]);
  assert.equal(r.status, 0, r.stderr);
  const docs = parseAllDocuments(r.stdout);
  assert.ok(Array.isArray(docs), "a document stream");
  assert.deepEqual(docs.map((d) => (d.toJS() as ChecksDoc).chain), ["ethereum", "base", "arbitrum"]);
  assert.match(r.stdout, /checks-from-profile on \d{4}-\d{2}-\d{2} from the Lasso profile/);
  const dir = tmpDir();
  try {
    mkdirSync(path.join(dir, "checks"));
    writeFileSync(path.join(dir, "checks", "all.yaml"), r.stdout);
    const v = cli(["validate", "--config", writeConfig(dir, 2, 1)]);
    assert.equal(v.status, 0, v.stderr);
    assert.match(v.stdout, /plan is valid/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("CLI: --out writes one file per chain that `validate` accepts with the config's budget; a second run refuses, --force overwrites", () => {
  const dir = tmpDir();
  try {
    // Two targets and a budget of 1.5: the rate is planned for both.
    const config = writeConfig(dir, 1.5, 2);
    const out = path.join(dir, "checks");
    const first = cli(["checks-from-profile", PUBLIC, "--config", config, "--out", out]);
    assert.equal(first.status, 0, first.stderr);
    assert.deepEqual(readdirSync(out).sort(), ["arbitrum.yaml", "base.yaml", "ethereum.yaml"]);
    assert.match(readFileSync(path.join(out, "ethereum.yaml"), "utf8"), /for 2 targets, within the budget of 1\.5 req\/s per chain\n# \(budget\.maxRequestsPerSecondPerChain in /);
    assert.match(first.stdout, /wrote .*ethereum\.yaml: chain ethereum, [\d.]+ req\/s planned for 2 target\(s\) \(budget 1\.5\)/);
    const v = cli(["validate", "--config", config]);
    assert.equal(v.status, 0, v.stderr);

    writeFileSync(path.join(out, "base.yaml"), "# edited by hand\n" + readFileSync(path.join(out, "base.yaml"), "utf8"));
    const again = cli(["checks-from-profile", PUBLIC, "--config", config, "--out", out]);
    assert.equal(again.status, 2);
    assert.match(again.stderr, /refusing to overwrite existing files: .*ethereum\.yaml, .*base\.yaml, .*arbitrum\.yaml \(pass --force to overwrite\)/);
    assert.match(readFileSync(path.join(out, "base.yaml"), "utf8"), /^# edited by hand/);

    const forced = cli(["checks-from-profile", PUBLIC, "--budget", "1", "--out", out, "--force"]);
    assert.equal(forced.status, 0, forced.stderr);
    assert.match(readFileSync(path.join(out, "base.yaml"), "utf8"), /^# base\.yaml: lasso-canary checks/);
    assert.match(readFileSync(path.join(out, "base.yaml"), "utf8"), /within the budget of 1 req\/s per chain\n# \(--budget\)/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("CLI: bad input exits 2 with file, path and problem, never a stack trace or a URL", async (t) => {
  const cases: [string, string[], RegExp][] = [
    ["provider without id", ["checks-from-profile", path.join(FIXTURES, "provider-without-id.yml")], /provider-without-id\.yml: chains\.ethereum\.providers\[1\]\.id: is required/],
    ["bad YAML", ["checks-from-profile", path.join(FIXTURES, "bad-yaml.yml")], /bad-yaml\.yml: YAML syntax error: .*\(line 10\)/],
    ["missing file", ["checks-from-profile", path.join(FIXTURES, "nope.yml")], /nope\.yml: cannot read Lasso profile: file not found/],
    ["no profile given", ["checks-from-profile"], /needs a Lasso profile file/],
    ["bad --budget", ["checks-from-profile", PUBLIC, "--budget", "lots"], /--budget must be a positive number of requests per second per chain, got "lots"/],
    ["budget out of reach", ["checks-from-profile", PUBLIC, "--budget", "0.01"], /chains\.ethereum: even with every interval lengthened/],
  ];
  for (const [name, args, expected] of cases) {
    await t.test(name, () => {
      const r = cli(args);
      assert.equal(r.status, 2, r.stderr);
      assert.match(r.stderr, expected);
      assert.doesNotMatch(r.stderr, /\n\s+at /, "no stack trace");
      assert.doesNotMatch(r.stderr, /s3cret|SECRETTOKEN|KEY0123|example\.invalid/, "no URL or secret echoed");
      assert.equal(r.stdout, "", "nothing on stdout");
    });
  }
});

test("CLI: a bad budget in --config names the config file and path", () => {
  const dir = tmpDir();
  try {
    const config = path.join(dir, "canary.yaml");
    writeFileSync(config, "targets:\n  - { name: lb, url: \"${LASSO_URL}\" }\nbudget:\n  maxRequestsPerSecondPerChain: -1\n");
    const r = cli(["checks-from-profile", PUBLIC, "--config", config]);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /canary\.yaml: budget\.maxRequestsPerSecondPerChain: must be > 0 \(line 4\)/);
    assert.equal(existsSync(path.join(dir, "checks")), false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
