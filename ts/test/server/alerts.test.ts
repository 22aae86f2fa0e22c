// Alerts (alerts/): a real repository evaluates its rules and posts to real local HTTP webhook
// receivers: one firing per episode, repeats at the interval, one resolution; a webhook that is down or
// hangs does not slow uploads. Reports are POSTed as a cache sends them (no multicast needed).
import { createServer, type AddressInfo, type Server as NetServer, type Socket } from "node:net";
import { request } from "undici";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { AlertsConfigError, parseAlertsConfig } from "../../src/server/alerts/config.js";
import { eventually, get, randomPayload, startRepository, tempDir, upload, type Running } from "./helpers.js";

interface Received {
  readonly path: string;
  readonly body: any;
  readonly at: number;
}

/**
 * A minimal HTTP/1.1 receiver on node:net: it reads one request (headers, then Content-Length bytes)
 * per connection and hands it over. (A node:http server in this process makes the multipart uploads
 * below stall in this vitest setup; a plain TCP one does not.)
 */
async function listen(handler: (path: string, body: string, socket: Socket) => void): Promise<{ server: NetServer; url: string }> {
  const server = createServer((socket) => {
    let data = Buffer.alloc(0);
    socket.on("error", () => undefined);
    socket.on("data", (chunk: Buffer) => {
      data = Buffer.concat([data, chunk]);
      const end = data.indexOf("\r\n\r\n");
      if (end < 0) return;
      const head = data.subarray(0, end).toString();
      const length = Number(/content-length:\s*(\d+)/i.exec(head)?.[1] ?? 0);
      if (data.length < end + 4 + length) return;
      handler(head.split(" ")[1] ?? "", data.subarray(end + 4, end + 4 + length).toString(), socket);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

function report(name: string, intervalMs: number, repaired = 0): Record<string, unknown> {
  const counters = Object.fromEntries(["datagrams", "datagramsDropped", "objectsCompleted", "fecBlocksDecoded", "fecFragmentsRecovered", "repaired", "repairBytes", "repairFailures", "fetched", "gaps"].map((n) => [n, 0]));
  return { name, intervalMs, keys: [], objects: 0, bytes: 0, counters: { ...counters, repaired }, heartbeatAgeMs: 10, staged: [], silent: false };
}

async function post(url: string, body: unknown): Promise<number> {
  const r = await request(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  await r.body.text();
  return r.statusCode;
}

describe("alerts reach webhooks", () => {
  const tmp = tempDir();
  const received: Received[] = [];
  const hanging: Socket[] = [];
  let receiver: { server: NetServer; url: string };
  let hang: { server: NetServer; url: string };
  let downUrl: string;
  let repo: Running;
  let reporting: NodeJS.Timeout | undefined;

  const generic = (): { status: string; rule: string; subject: string }[] => received.filter((r) => r.path === "/generic").flatMap((r) => r.body.alerts);
  const of = (status: string, subject: string): number => generic().filter((a) => a.status === status && a.rule === "cache-stale" && a.subject === subject).length;

  beforeAll(async () => {
    receiver = await listen((path, body, socket) => {
      received.push({ path, body: JSON.parse(body), at: Date.now() });
      socket.end("HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n");
    });
    hang = await listen((_path, _body, socket) => hanging.push(socket)); // never answers
    const closed = await listen(() => undefined);
    downUrl = closed.url;
    await new Promise((r) => closed.server.close(r));
    const config = parseAlertsConfig(
      JSON.stringify({
        evaluateMs: 100,
        repeatMs: 1500,
        thresholds: { staleMs: 600, repairsPerSecond: 50 },
        retry: { baseMs: 100, maxMs: 400, attempts: 3, timeoutMs: 2000 },
        webhooks: [
          { url: `${receiver.url}/generic`, format: "generic", name: "generic" },
          { url: `${receiver.url}/discord`, format: "discord", name: "discord" },
          { url: `${receiver.url}/mattermost`, format: "mattermost", name: "mattermost" },
          { url: `${downUrl}/down`, format: "generic", name: "down" },
          { url: `${hang.url}/hang`, format: "generic", name: "hang" },
        ],
      }),
    );
    repo = await startRepository(tmp.dir, undefined, { alerts: config });
  });
  afterAll(async () => {
    clearInterval(reporting);
    await repo.server.close();
    for (const socket of hanging) socket.destroy();
    await new Promise((r) => hang.server.close(r));
    await new Promise((r) => receiver.server.close(r));
    tmp.cleanup();
  });

  test("a stale cache fires once, repeats at the interval, resolves once when it reports again", async () => {
    for (let i = 0; i < 3; i++) expect(await post(`${repo.url}/caches/report`, report("sim-1", 100))).toBe(204);
    const silentAt = Date.now();
    await new Promise((r) => setTimeout(r, 300));
    expect(of("firing", "sim-1")).toBe(0); // within staleMs: no alert
    const fired = await eventually(() => received.find((r) => r.path === "/generic" && r.body.alerts.some((a: any) => a.status === "firing" && a.subject === "sim-1")), 5000, "the firing");
    expect(fired.at - silentAt).toBeGreaterThanOrEqual(600);
    expect(fired.at - silentAt).toBeLessThan(2000);
    const alert = fired.body.alerts.find((a: any) => a.subject === "sim-1");
    expect(alert).toMatchObject({ status: "firing", rule: "cache-stale", subject: "sim-1", severity: "critical" });
    expect(alert.summary).toMatch(/sim-1 .* has not reported for/);
    expect(fired.body.source).toBe("condcast");
    // Chat formats: Discord's {content}, Mattermost's {text}, one line per alert.
    const discord = await eventually(() => received.find((r) => r.path === "/discord"), 3000, "discord");
    expect(discord.body.content).toMatch(/\[FIRING\] critical cache-stale sim-1/);
    const mattermost = await eventually(() => received.find((r) => r.path === "/mattermost"), 3000, "mattermost");
    expect(mattermost.body.text).toMatch(/\[FIRING\] critical cache-stale sim-1/);
    // The page's JSON shows it while active.
    const active = JSON.parse((await get(`${repo.url}/alerts`)).body.toString());
    expect(active.active.map((a: any) => a.id)).toContain("cache-stale:sim-1");

    await eventually(() => (of("repeat", "sim-1") >= 1 ? true : undefined), 4000, "the repeat");
    expect(of("firing", "sim-1")).toBe(1);

    const resumedAt = Date.now();
    reporting = setInterval(() => void post(`${repo.url}/caches/report`, report("sim-1", 100)).catch(() => undefined), 100);
    await eventually(() => (of("resolved", "sim-1") === 1 ? true : undefined), 3000, "the resolution");
    expect(Date.now() - resumedAt).toBeLessThan(1500);
    await new Promise((r) => setTimeout(r, 700));
    expect(of("firing", "sim-1")).toBe(1);
    expect(of("resolved", "sim-1")).toBe(1);
    expect(generic().filter((a) => a.subject === "sim-1" && a.status === "resolved")[0]).toHaveProperty("endsAt");

    const metrics = (await get(`${repo.url}/metrics`)).body.toString();
    expect(metrics).toMatch(/condcast_alerts_fired_total\{rule="cache-stale"\} 1\b/);
    expect(metrics).toMatch(/condcast_alerts_resolved_total\{rule="cache-stale"\} 1\b/);
    expect(metrics).toMatch(/condcast_alerts_active\{rule="cache-stale"\} 0\b/);
    expect(metrics).toMatch(/condcast_alert_webhook_deliveries_total\{webhook="down",result="retried"\} [1-9]/);
    expect(metrics).toMatch(/condcast_alert_webhook_deliveries_total\{webhook="generic",result="delivered"\} [1-9]/);
  }, 20_000);

  test("a repair storm across the farm fires and resolves", async () => {
    let repaired = 0;
    const storm = setInterval(() => {
      repaired += 20; // 200 repairs/s, above the 50/s threshold
      void post(`${repo.url}/caches/report`, report("storm-1", 100, repaired)).catch(() => undefined);
    }, 100);
    try {
      await eventually(() => (generic().some((a) => a.rule === "repair-storm" && a.status === "firing") ? true : undefined), 5000, "the repair storm");
    } finally {
      clearInterval(storm);
    }
    const calm = setInterval(() => void post(`${repo.url}/caches/report`, report("storm-1", 100, repaired)).catch(() => undefined), 100);
    try {
      await eventually(() => (generic().some((a) => a.rule === "repair-storm" && a.status === "resolved") ? true : undefined), 5000, "its resolution");
    } finally {
      clearInterval(calm);
    }
    expect(generic().filter((a) => a.rule === "repair-storm" && a.status === "firing")).toHaveLength(1);
  }, 15_000);

  test("webhooks that are down or hang do not slow uploads", async () => {
    // sim-2 goes stale: the hanging and the down webhook get messages to fail on while we upload.
    await post(`${repo.url}/caches/report`, report("sim-2", 100));
    await eventually(() => (of("firing", "sim-2") === 1 ? true : undefined), 5000, "sim-2 stale");
    await eventually(() => (hanging.length > 0 ? true : undefined), 5000, "the hanging webhook's request");
    const T = Date.now();
    expect((await upload(repo.url, `/Alerts/Warm/${T - 1000}/${T + 3_600_000}`, randomPayload(100, 99))).status).toBe(201); // first upload warms up
    const times: number[] = [];
    for (let i = 0; i < 20; i++) {
      const started = performance.now();
      const r = await upload(repo.url, `/Alerts/Upload/${T - 1000}/${T + 3_600_000}`, randomPayload(20_000, i + 1));
      times.push(performance.now() - started);
      expect(r.status).toBe(201);
    }
    times.sort((a, b) => a - b);
    expect(times.at(-1)!).toBeLessThan(1000); // a hanging webhook's attempt lasts 2 s
    expect(hanging.length).toBeGreaterThan(0);
  }, 15_000);

  test("a malformed alerts file is refused with the place of the mistake", () => {
    expect(() => parseAlertsConfig(JSON.stringify({ webhooks: [{ url: "http://x/", format: "slack" }] }))).toThrow(/webhooks\[0\]\.format must be discord, mattermost or generic/);
    expect(() => parseAlertsConfig(JSON.stringify({ thresholds: { staleMs: -1 } }))).toThrow(AlertsConfigError);
    expect(() => parseAlertsConfig(JSON.stringify({ thresholds: { stale: 1 } }))).toThrow(/unknown setting "stale"/);
    expect(parseAlertsConfig("{}").webhooks).toEqual([]);
  });
});

describe("the other rules, on a real repository", () => {
  const tmp = tempDir();
  let repo: Running;
  const active = async (): Promise<string[]> => JSON.parse((await get(`${repo.url}/alerts`)).body.toString()).active.map((a: { id: string }) => a.id);
  const withKey = (name: string, key: number, silent: boolean): Record<string, unknown> => ({ ...report(name, 100), keys: key === 0 ? [] : [{ keytable: "online", key }], silent });
  let reporting: NodeJS.Timeout | undefined;
  let reports: Record<string, unknown>[] = [];

  beforeAll(async () => {
    repo = await startRepository(tmp.dir, undefined, { alerts: parseAlertsConfig(JSON.stringify({ evaluateMs: 100, thresholds: { behindMs: 400, silentMs: 400, staleMs: 5000 } })) });
    // Key 1 of "online": an empty changeset committed.
    const opened = await request(`${repo.url}/changesets`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ keytable: "online" }) });
    const id = ((await opened.body.json()) as { id: string }).id;
    const committed = await request(`${repo.url}/changesets/${id}/commit`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
    expect(committed.statusCode, await committed.body.text()).toBe(200);
    reporting = setInterval(() => {
      for (const r of reports) void post(`${repo.url}/caches/report`, r).catch(() => undefined);
    }, 100);
  });
  afterAll(async () => {
    clearInterval(reporting);
    await repo.server.close();
    tmp.cleanup();
  });

  test("behind its key for behindMs, a silent group for silentMs, then resolved when they are fine", async () => {
    reports = [withKey("lag-1", 0, false), withKey("mute-1", 1, true), withKey("fine-1", 1, false)];
    const started = Date.now();
    await eventually(async () => {
      const ids = await active();
      return ids.includes("cache-behind:online/lag-1") && ids.includes("group-silent:mute-1") ? ids : undefined;
    }, 5000, "cache-behind and group-silent");
    expect(Date.now() - started).toBeGreaterThanOrEqual(400);
    expect((await active()).filter((id) => id.includes("fine-1"))).toEqual([]);
    reports = [withKey("lag-1", 1, false), withKey("mute-1", 1, false), withKey("fine-1", 1, false)];
    await eventually(async () => ((await active()).length === 0 ? true : undefined), 5000, "both resolved");
  });

  test("a run started while caches do not hold its key fires run-not-ready until they do", async () => {
    reports = [withKey("lag-2", 0, false), withKey("fine-2", 1, false)];
    await new Promise((r) => setTimeout(r, 300)); // reported, so that the run's start finds lag-2 behind
    const started = await request(`${repo.url}/runs/77`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ keytable: "online" }) });
    expect(started.statusCode, await started.body.text()).toBe(201);
    await eventually(async () => ((await active()).includes("run-not-ready:run 77") ? true : undefined), 5000, "run-not-ready");
    const alert = JSON.parse((await get(`${repo.url}/alerts`)).body.toString()).active.find((a: { id: string }) => a.id === "run-not-ready:run 77");
    expect(alert.summary).toMatch(/run 77 started on online key 1 with 1 of 2 caches not holding it \(lag-2\)/);
    reports = [withKey("lag-2", 1, false), withKey("fine-2", 1, false)];
    await eventually(async () => (!(await active()).includes("run-not-ready:run 77") ? true : undefined), 5000, "its resolution");
    await new Promise((r) => setTimeout(r, 300));
    expect(await active()).not.toContain("run-not-ready:run 77");
  });
});
