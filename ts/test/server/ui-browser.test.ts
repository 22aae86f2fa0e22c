// The status page (ui/) in a real headless browser (Debian's chromium, driven by playwright-core):
// a repository and two real caches on loopback multicast, then 2000 simulated caches reporting as
// bench/farm-reports.ts does. Writes out/ui/status-page.png. (Multicast group 239.255.40.60, port 40960.)
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { FormData, request } from "undici";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { parseAlertsConfig } from "../../src/server/alerts/config.js";
import { startCache, startRepository, tempDir, upload, randomPayload, type Running } from "./helpers.js";

const CHROMIUM = "/usr/bin/chromium";

/** Installs chromium when missing (as root, as CI is); the reason it cannot run otherwise. */
function chromiumMissing(): string | undefined {
  if (existsSync(CHROMIUM)) return undefined;
  const r = spawnSync(new URL("../../../scripts/ensure-debs.sh", import.meta.url).pathname, ["chromium"], { stdio: "inherit" });
  return r.status === 0 && existsSync(CHROMIUM) ? undefined : "chromium is not installed and cannot be installed here (not root): scripts/ensure-debs.sh chromium";
}
const missing = chromiumMissing();
if (missing !== undefined) console.warn(`ui-browser.test.ts skipped: ${missing}`);

function simulatedReport(name: string, i: number, round: number): Record<string, unknown> {
  const counters = { datagrams: 1000 * round, datagramsDropped: i % 7 === 0 ? 5 * round : 0, objectsCompleted: 10, fecBlocksDecoded: 0, fecFragmentsRecovered: round, repaired: i % 50 === 0 ? 3 * round : 0, repairBytes: 0, repairFailures: 0, fetched: 0, gaps: 0 };
  // Most hold key 1 of "online"; every 97th is behind on key 0.
  return { name, intervalMs: 10_000, keys: [{ keytable: "online", key: i % 97 === 0 ? 0 : 1 }], objects: 10 + (i % 5), bytes: 1_000_000 + i, counters, heartbeatAgeMs: 200, staged: [], silent: false };
}

describe.skipIf(missing !== undefined)("the status page in a browser", () => {
  const MC = { group: "239.255.40.60", port: 40960 };
  const tmp = tempDir();
  let repo: Running;
  let a: Running;
  let b: Running;
  let browser: BrowserContext;
  let page: Page;
  const errors: string[] = [];
  const profile = tempDir();

  beforeAll(async () => {
    repo = await startRepository(tmp.dir, MC, { fecParity: 0, uiPeriodMs: 500, alerts: parseAlertsConfig(JSON.stringify({ evaluateMs: 200 })) });
    a = await startCache([repo.url], MC, {}, { intervalMs: 200, name: "cache-a" });
    b = await startCache([repo.url], MC, {}, { intervalMs: 200, name: "cache-b" });
    // A fresh profile (--user-data-dir, which playwright passes for a persistent context).
    browser = await chromium.launchPersistentContext(profile.dir, {
      executablePath: CHROMIUM,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
      viewport: { width: 1400, height: 1000 },
    });
    page = browser.pages()[0] ?? (await browser.newPage());
    page.on("console", (m) => {
      if (m.type() === "error") errors.push(m.text());
    });
    page.on("pageerror", (e) => errors.push(e.message));
  }, 30_000);
  afterAll(async () => {
    await browser?.close();
    await a.server.close();
    await b.server.close().catch(() => undefined);
    await repo.server.close();
    tmp.cleanup();
    profile.cleanup();
  });

  test("loads without console errors and shows every cache of the cluster", async () => {
    const T = Date.now();
    expect((await upload(repo.url, `/Ui/Object/${T - 1000}/${T + 3_600_000}`, randomPayload(20_000, 1))).status).toBe(201);
    // Key 1 of keytable "online", so that the keys table has something to show.
    const opened = await request(`${repo.url}/changesets`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ keytable: "online" }) });
    const changeset = ((await opened.body.json()) as { id: string }).id;
    const form = new FormData();
    form.append("send", new Blob([randomPayload(5000, 2)]), "object.root");
    const staged = await request(`${repo.url}/Ui/Keyed/${T - 1000}/${T + 3_600_000}`, { method: "POST", body: form, headers: { "condcast-changeset": changeset } });
    await staged.body.text();
    expect(staged.statusCode).toBe(201);
    const committed = await request(`${repo.url}/changesets/${changeset}/commit`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
    await committed.body.text();
    expect(committed.statusCode).toBe(200);
    await page.goto(`${repo.url}/ui`);
    await page.waitForSelector('tr[data-cache="cache-a"][data-state="ok"]', { timeout: 10_000 });
    await page.waitForSelector('tr[data-cache="cache-b"][data-state="ok"]', { timeout: 10_000 });
    await page.waitForSelector("#no-alerts");
    expect(await page.textContent("#changes")).toContain("Ui/Object");
    await page.waitForFunction(() => /online\s*1\s*2 of 2/.test(document.querySelector("#keys")?.textContent ?? ""), undefined, { timeout: 10_000 });
    expect(await page.textContent("#connection")).toContain("live");
    // A cache's own, smaller page: its node only.
    const own = await browser.newPage();
    own.on("console", (m) => {
      if (m.type() === "error") errors.push(`cache page: ${m.text()}`);
    });
    await own.goto(`${a.url}/ui`);
    await own.waitForFunction(() => /online\s*1/.test(document.querySelector("#keys")?.textContent ?? ""), undefined, { timeout: 10_000 });
    expect(await own.textContent("h1")).toBe("condcast cache status");
    expect(await own.isVisible("#farm-section")).toBe(false);
    expect(await own.textContent("#summary")).toMatch(/ok\s*health/);
    await own.close();
    expect(errors).toEqual([]);
  }, 20_000);

  test("a killed cache shows as stale within the configured time, with its alert, resolved when it is back", async () => {
    await b.server.close();
    const killed = Date.now();
    await page.waitForSelector('tr[data-cache="cache-b"][data-state="stale"]', { timeout: 5000 });
    // Stale after 3 report periods (600 ms); the page updates every 500 ms.
    expect(Date.now() - killed).toBeLessThan(2000);
    await page.waitForSelector('li[data-alert="cache-stale:cache-b"]', { timeout: 5000 });
    expect(Date.now() - killed).toBeLessThan(2500); // 3 report periods, then an evaluation and an update
    expect(await page.textContent("#alerts")).toMatch(/critical cache-stale: 1/);
    expect(await page.textContent('li[data-alert="cache-stale:cache-b"]')).toMatch(/cache-b.*has not reported for/);
    // The bad one is first.
    expect(await page.getAttribute("#farm-table tbody tr:first-child", "data-cache")).toBe("cache-b");
    b = await startCache([repo.url], MC, {}, { intervalMs: 200, name: "cache-b" });
    await page.waitForSelector('li[data-alert="cache-stale:cache-b"]', { state: "detached", timeout: 5000 });
    await page.waitForSelector('tr[data-cache="cache-b"][data-state="ok"]', { timeout: 5000 });
    expect(await page.textContent("#events")).toMatch(/resolved\s*cache-stale cache-b/);
    expect(errors).toEqual([]);
  }, 20_000);

  test("keeps up with 2000 simulated caches reporting", async () => {
    const names = Array.from({ length: 2000 }, (_, i) => `sim-${String(i).padStart(4, "0")}`);
    const round = async (n: number): Promise<void> => {
      for (let i = 0; i < names.length; i += 100) {
        await Promise.all(
          names.slice(i, i + 100).map(async (name, j) => {
            const r = await request(`${repo.url}/caches/report`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(simulatedReport(name, i + j, n)) });
            await r.body.text();
            expect(r.statusCode).toBe(204);
          }),
        );
      }
    };
    const started = Date.now();
    await round(1);
    await page.waitForSelector('#summary [data-caches="2002"]', { timeout: 20_000 });
    const shown = Date.now() - started;
    await round(2);
    // Rates appear once a cache reported twice; the ones repairing sort before the quiet ones.
    await page.waitForFunction(() => document.querySelector("#farm-table tbody tr:first-child")?.getAttribute("data-cache")?.startsWith("sim-") === true, undefined, { timeout: 10_000 });
    expect(await page.textContent("#shown")).toMatch(/showing 300 of 2002 matching/);
    await page.fill("#filter", "sim-1999");
    await page.waitForSelector('tr[data-cache="sim-1999"]', { timeout: 15_000 });
    expect(await page.locator("#farm-table tbody tr").count()).toBe(1);
    await page.fill("#filter", "");
    // The page still follows the stream: an update is drawn within a second or two.
    const before = await page.textContent("#connection");
    await page.waitForFunction((text) => document.querySelector("#connection")?.textContent !== text, before, { timeout: 3000 });
    const time = await page.evaluate(() => {
      const t0 = performance.now();
      (document.querySelector('button[data-sort="name"]') as HTMLButtonElement).click();
      return performance.now() - t0;
    });
    expect(time).toBeLessThan(1000); // one sort and redraw of 2002 caches
    console.log(`2000 simulated caches: shown ${shown} ms after the first report; a sort and redraw ${time.toFixed(0)} ms`);
    mkdirSync(new URL("../../../out/ui/", import.meta.url), { recursive: true });
    // The picture as a shifter first sees it: a fresh load, the bad ones first.
    await page.reload();
    await page.waitForSelector('#summary [data-caches="2002"]', { timeout: 10_000 });
    await page.screenshot({ path: new URL("../../../out/ui/status-page.png", import.meta.url).pathname, fullPage: false });
    expect(errors).toEqual([]);
  }, 90_000);
});
