// A cache that stops hearing multicast notices it (issue 12): a real repository on a real port
// multicasting on loopback; the cache either listens where nothing arrives or is fed datagrams
// in-process, so that the silence is chosen by the test. (Multicast ports 40600-40649.)
import { describe, expect, test } from "vitest";
import { DatagramDecoder } from "../../src/wire/decode.js";
import { captureDatagrams, eventually, get, randomPayload, startCache, startRepository, tempDir, upload, type Running } from "./helpers.js";

const json = async (url: string): Promise<Record<string, any>> => JSON.parse((await get(url)).body.toString()) as Record<string, any>;
const metric = (text: string, name: string): number => Number(new RegExp(`^${name} (\\S+)$`, "m").exec(text)?.[1] ?? Number.NaN);

async function withRepository<T>(mc: { group: string; port: number }, body: (repo: Running) => Promise<T>): Promise<T> {
  const tmp = tempDir();
  const repo = await startRepository(tmp.dir, mc, { fecParity: 0 });
  try {
    return await body(repo);
  } finally {
    await repo.server.close();
    tmp.cleanup();
  }
}

const uploadSome = async (repo: Running, prefix: string, n: number, seed: number): Promise<string[]> => {
  const t = Date.now();
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const u = await upload(repo.url, `/${prefix}/Object${i}/${t - 10}/${t + 3_600_000}`, randomPayload(3000 + i * 1000, seed + i));
    expect(u.status).toBe(201);
    ids.push(u.id);
  }
  return ids;
};

describe("cache: a silent multicast group", () => {
  test("no heartbeat within the start-up grace: reported, counted, and the change log is read until every upload is held", async () => {
    // The repository multicasts on 40601; the cache listens on 40602, where nothing ever arrives.
    await withRepository({ group: "239.255.40.20", port: 40601 }, async (repo) => {
      const cache = await startCache([repo.url], { group: "239.255.40.20", port: 40602 }, { silence: { startupGraceMs: 300, minMs: 300, pollMs: 100 } });
      try {
        const ids = await uploadSome(repo, "Silent/Never", 5, 10);
        const health = await eventually(async () => {
          const h = await json(`${cache.url}/health`);
          return h.status === "degraded" ? h : undefined;
        }, 5000, "/health degraded");
        expect(health.reasons.join(" ")).toMatch(/multicast silent since .*no heartbeat/);
        await eventually(async () => ((await json(`${cache.url}/status`)).objects === 5 ? true : undefined), 5000, "every upload held by the change log");
        for (const id of ids) expect((await get(`${cache.url}/download/${id}`, {}, "HEAD")).headers["condcast-source"]).toBe("changes");
        const status = await json(`${cache.url}/status`);
        expect(status.multicastGroup).toMatchObject({ state: "silent", episodes: 1 });
        expect(status.counters).toMatchObject({ silentEpisodes: 1, misses: 0 });
        expect(status.counters.rejoins).toBeGreaterThanOrEqual(1);
        // Still silent, so the change log keeps being read on its period.
        const polls = status.counters.changeLogPolls as number;
        expect(polls).toBeGreaterThanOrEqual(1);
        await eventually(async () => ((await json(`${cache.url}/status`)).counters.changeLogPolls > polls ? true : undefined), 2000, "the next poll");
        expect(status.counters.fetched).toBe(5); // each once
        const metrics = (await get(`${cache.url}/metrics`)).body.toString();
        expect(metric(metrics, "condcast_multicast_silent")).toBe(1);
        expect(metric(metrics, "condcast_multicast_silent_episodes_total")).toBe(1);
      } finally {
        await cache.server.close();
      }
    });
  });

  test("a known sender falls silent: one episode, objects kept up by the change log, and heartbeats returning end it", async () => {
    const MC = { group: "239.255.40.21", port: 40611 };
    const capture = await captureDatagrams(MC);
    try {
      await withRepository(MC, async (repo) => {
        // The cache joins a group nobody sends to; the test feeds it the repository's heartbeats.
        const cache = await startCache([repo.url], { group: "239.255.40.22", port: 40612 }, { silence: { startupGraceMs: 60_000, minMs: 300, pollMs: 100 } });
        const receiver = cache.server.cache!.receiver;
        const decoder = new DatagramDecoder();
        const heartbeat = (): Buffer | undefined => capture.datagrams.findLast((d) => decoder.decode(d).kind === "heartbeat");
        let feeding = true;
        const feeder = setInterval(() => {
          const hb = heartbeat();
          if (feeding && hb !== undefined) receiver.handleDatagram(hb, Date.now());
        }, 50);
        try {
          await eventually(async () => ((await json(`${cache.url}/status`)).multicastGroup.state === "hearing" ? true : undefined), 5000, "heartbeats heard");
          await new Promise((r) => setTimeout(r, 500));
          expect((await json(`${cache.url}/health`)).status).toBe("ok");
          feeding = false;
          await eventually(async () => ((await json(`${cache.url}/health`)).status === "degraded" ? true : undefined), 5000, "silence noticed");
          await uploadSome(repo, "Silent/Known", 3, 20);
          await eventually(async () => ((await json(`${cache.url}/status`)).objects === 3 ? true : undefined), 5000, "uploads held by the change log while silent");
          feeding = true;
          await eventually(async () => ((await json(`${cache.url}/health`)).status === "ok" ? true : undefined), 5000, "heard again");
          const status = await json(`${cache.url}/status`);
          expect(status.multicastGroup).toMatchObject({ state: "hearing", episodes: 1, episode: null });
          expect(status.multicastGroup.silentMs).toBeGreaterThanOrEqual(300);
          expect(status.counters.silentEpisodes).toBe(1);
          expect(metric((await get(`${cache.url}/metrics`)).body.toString(), "condcast_multicast_silent")).toBe(0);
          // Polling stopped with the episode.
          const polls = status.counters.changeLogPolls as number;
          await new Promise((r) => setTimeout(r, 500));
          expect((await json(`${cache.url}/status`)).counters.changeLogPolls).toBe(polls);
        } finally {
          clearInterval(feeder);
          await cache.server.close();
        }
      });
    } finally {
      await capture.close();
    }
  });

  test("the first heartbeat from a sender whose every earlier object was missed is a gap", async () => {
    const MC = { group: "239.255.40.23", port: 40621 };
    const capture = await captureDatagrams(MC);
    try {
      await withRepository(MC, async (repo) => {
        // Started while the repository's log is empty; it hears nothing but one later heartbeat.
        const cache = await startCache([repo.url], undefined);
        try {
          await eventually(async () => ((await json(`${cache.url}/status`)).pendingUpstreamTasks === 0 ? true : undefined), 5000, "start read the change log");
          const ids = await uploadSome(repo, "Silent/FirstHeartbeat", 5, 30);
          const decoder = new DatagramDecoder();
          const hb = await eventually(() => capture.datagrams.find((d) => {
            const x = decoder.decode(d);
            return x.kind === "heartbeat" && x.heartbeat.lastSequence >= 5;
          }), 5000, "a heartbeat announcing the uploads");
          cache.server.cache!.receiver.handleDatagram(hb, Date.now());
          await eventually(async () => ((await json(`${cache.url}/status`)).objects === 5 ? true : undefined), 5000, "every missed upload fetched");
          const status = await json(`${cache.url}/status`);
          expect(status.counters).toMatchObject({ gaps: 1, misses: 0, fetched: 5 });
          for (const id of ids) expect((await get(`${cache.url}/download/${id}`, {}, "HEAD")).headers["condcast-source"]).toBe("changes");
        } finally {
          await cache.server.close();
        }
      });
    } finally {
      await capture.close();
    }
  });

  test("an object the receiver drops unfinished is fetched whole, once", async () => {
    const MC = { group: "239.255.40.24", port: 40631 };
    const capture = await captureDatagrams(MC);
    try {
      await withRepository(MC, async (repo) => {
        // Repair waits longer than reassembly keeps a partial object, so the receiver drops it.
        const cache = await startCache([repo.url], undefined, { repairQuietMs: 60_000, multicast: { group: "239.255.40.25", port: 40632, interface: "127.0.0.1", partialTimeoutMs: 200 } });
        try {
          const t = Date.now();
          const u = await upload(repo.url, `/Silent/Dropped/${t - 10}/${t + 3_600_000}`, randomPayload(20_000, 40));
          const decoder = new DatagramDecoder();
          const frags = await eventually(() => {
            const f = capture.datagrams.filter((d) => decoder.decode(d).kind === "fragment");
            return f.length >= 14 ? f : undefined;
          }, 5000, "the object's fragments");
          for (const f of frags.slice(0, 5)) cache.server.cache!.receiver.handleDatagram(f, Date.now());
          await eventually(async () => ((await json(`${cache.url}/status`)).objects === 1 ? true : undefined), 5000, "the dropped object fetched whole");
          expect((await get(`${cache.url}/download/${u.id}`, {}, "HEAD")).headers["condcast-source"]).toBe("changes");
          const status = await json(`${cache.url}/status`);
          expect(status.counters).toMatchObject({ refetches: 1, fetched: 1, repaired: 0 });
          expect(status.receiver.objectsDropped.expired).toBe(1);
        } finally {
          await cache.server.close();
        }
      });
    } finally {
      await capture.close();
    }
  });
});
