import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";

test("the systemd unit passes systemd-analyze verify", () => {
  const r = spawnSync("systemd-analyze", ["verify", "systemd/lasso-canary.service"], { encoding: "utf8" });
  assert.equal(r.error, undefined, "systemd-analyze is installed (.ci/run installs it)");
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr.trim(), "", "no warnings");
  const unit = readFileSync("systemd/lasso-canary.service", "utf8");
  assert.match(unit, /^ExecStart=.*\/dist\/src\/cli\.js run --config /m, "starts the compiled CLI's run command");
  assert.match(unit, /^TimeoutStopSec=\d+/m, "gives SIGTERM time to flush the store");
});

// No Docker engine runs here, so the image is not built in CI: these checks catch what
// breaks a build or a deployment without one (missing paths, root user, no health check).
test("the Dockerfile is multi-stage, non-root, with a volume and a health check, and copies only paths that exist", () => {
  const lines = readFileSync("Dockerfile", "utf8").split("\n");
  const froms = lines.filter((l) => /^FROM /.test(l));
  assert.ok(froms.length >= 2, "multi-stage");
  const final = lines.slice(lines.lastIndexOf(froms.at(-1) ?? ""));
  const user = final.filter((l) => /^USER /.test(l)).at(-1);
  assert.ok(user && !/root|^USER 0/.test(user), `final stage runs as a non-root user (${user})`);
  assert.ok(final.some((l) => /^VOLUME /.test(l)), "database volume");
  assert.ok(final.some((l) => /^HEALTHCHECK /.test(l)), "health check");
  for (const l of lines) {
    const m = /^COPY (?!--from)(.+) \S+$/.exec(l);
    if (!m?.[1]) continue;
    for (const src of m[1].split(/\s+/)) assert.ok(existsSync(src), `COPY source ${src} exists`);
  }
});
