// deploy/grafana/*.json and deploy/prometheus/alerts.yml name only metrics that /metrics exports: a
// real repository and a real cache reporting to it are scraped, and every condcast_* name in the
// dashboard's expressions and the rules' expressions must be among theirs. (Multicast 239.255.40.61, port 40961.)
import { readdirSync, readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { parseAlertsConfig } from "../../src/server/alerts/config.js";
import { eventually, get, startCache, startRepository, tempDir, type Running } from "./helpers.js";

const deploy = new URL("../../../deploy/", import.meta.url);

function names(text: string): Set<string> {
  return new Set(text.match(/\bcondcast_[a-z0-9_]+/g) ?? []);
}

/** Metric names a Prometheus text exposition has samples for. */
function exported(text: string): Set<string> {
  const out = new Set<string>();
  for (const line of text.split("\n")) {
    const m = /^(condcast_[a-z0-9_]+)[{ ]/.exec(line);
    if (m !== null) out.add(m[1]!);
  }
  return out;
}

describe("dashboards and rules name real metrics", () => {
  const MC = { group: "239.255.40.61", port: 40961 };
  const tmp = tempDir();
  let repo: Running;
  let cache: Running;
  beforeAll(async () => {
    // One webhook (nothing listens there), so that the per-webhook delivery counters have samples.
    repo = await startRepository(tmp.dir, MC, { fecParity: 0, alerts: parseAlertsConfig(JSON.stringify({ webhooks: [{ url: "http://127.0.0.1:9/", name: "none" }] })) });
    cache = await startCache([repo.url], MC, {}, { intervalMs: 200, name: "metrics-cache" });
  });
  afterAll(async () => {
    await cache.server.close();
    await repo.server.close();
    tmp.cleanup();
  });

  test("every metric of the Grafana dashboards and alerts.yml is exported", async () => {
    await eventually(async () => (JSON.parse((await get(`${repo.url}/caches`)).body.toString()).total === 1 ? true : undefined), 5000, "the cache's report");
    const have = new Set([...exported((await get(`${repo.url}/metrics`)).body.toString()), ...exported((await get(`${cache.url}/metrics`)).body.toString())]);
    const expressions: string[] = [];
    for (const file of readdirSync(new URL("grafana/", deploy)).filter((f) => f.endsWith(".json"))) {
      const dashboard = JSON.parse(readFileSync(new URL(`grafana/${file}`, deploy), "utf8"));
      for (const panel of dashboard.panels) for (const target of panel.targets ?? []) expressions.push(target.expr);
    }
    const rules = readFileSync(new URL("prometheus/alerts.yml", deploy), "utf8");
    const ruleExprs = [...rules.matchAll(/^\s*expr:\s*(.+)$/gm)].map((m) => m[1]!);
    expect(expressions.length).toBeGreaterThan(10);
    expect(ruleExprs.length).toBeGreaterThanOrEqual(9);
    const wanted = names([...expressions, ...ruleExprs].join("\n"));
    expect(wanted.size).toBeGreaterThan(15);
    expect([...wanted].filter((n) => !have.has(n))).toEqual([]);
  }, 20_000);
});
