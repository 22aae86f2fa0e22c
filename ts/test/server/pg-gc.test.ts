// PgStore upkeep. gc(): a payload in the bucket that no row names (an upload cut short) is removed once older
// than the grace; one a committed row names stays. pruneEvents(): a replica behind the kept events
// reloads. A killed LISTEN session comes back. Real PostgreSQL + S3: run under scripts/with-pg-s3.sh.
import { createHash, randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PgStore } from "../../src/server/store/postgres/pg-store.js";
import { S3Payloads } from "../../src/server/store/postgres/s3-payloads.js";
import type { ObjectRecord } from "../../src/server/model.js";
import { LogSender } from "../../src/server/repository/log-sender.js";
import { eventually, pgOptions } from "./helpers.js";

const GRACE_MS = 60_000;

async function pgRows(sql: string): Promise<Array<Record<string, unknown>>> {
  const client = new pg.Client({ connectionString: process.env.CONDCAST_PG_URL });
  await client.connect();
  try {
    return (await client.query(sql)).rows as Array<Record<string, unknown>>;
  } finally {
    await client.end();
  }
}

async function pgQuery(sql: string): Promise<void> {
  await pgRows(sql);
}

describe.skipIf(process.env.CONDCAST_PG_URL === undefined)("PgStore upkeep: orphan payloads, replay events, the LISTEN session", () => {
  // Built in beforeAll, not at collection: a skipped describe still runs its body, and pgOptions
  // throws without the PostgreSQL + S3 environment.
  const dir = mkdtempSync(join(tmpdir(), "condcast-pg-gc-"));
  let store: PgStore;
  let bucket: S3Payloads;

  beforeAll(async () => {
    const options = pgOptions(dir, { orphanGraceMs: GRACE_MS });
    store = new PgStore(options);
    bucket = new S3Payloads(options.s3);
    await store.open();
  });
  afterAll(async () => { await store?.close(); rmSync(dir, { recursive: true, force: true }); });

  it("removes an orphan after the grace and keeps a payload with a row", async () => {
    const payload = Buffer.from("kept payload");
    const now = Date.now();
    const record: ObjectRecord = {
      id: randomUUID(), size: payload.length, initialValidity: now + 1000, lastModified: now, source: "upload",
      meta: { path: "Test/Gc", validFrom: now, validUntil: now + 1000, created: now, contentType: "application/octet-stream", fileName: "gc.bin", md5: createHash("md5").update(payload).digest("hex"), metadata: {} },
    };
    expect((await store.put(record, payload)).stored).toBe(true);
    const orphan = randomUUID();
    await bucket.put(orphan, Buffer.from("no row names me"));

    expect(await store.gc(Date.now())).toBe(0); // within the grace: could be an upload in flight
    expect(await bucket.get(orphan)).toBeDefined();

    expect(await store.gc(Date.now() + GRACE_MS + 5_000)).toBe(1);
    expect(await bucket.get(orphan)).toBeUndefined();
    expect(await bucket.get(record.id)).toEqual(payload);
  });

  it("pruneEvents keeps the newest events; a replica further behind reloads its whole index in one snapshot", async () => {
    const writer = new PgStore(pgOptions(join(dir, "prune")));
    const behind = new PgStore({ ...pgOptions(join(dir, "prune")), pollMs: 3_600_000 });
    await writer.open();
    await behind.open();
    try {
      const put = async (i: number): Promise<string> => {
        const payload = Buffer.from(`object ${i}`);
        const now = Date.now();
        const id = randomUUID();
        const meta = { path: `Test/Prune/${i}`, validFrom: now, validUntil: now + 60_000, created: now, contentType: "application/octet-stream", fileName: "p.bin", md5: createHash("md5").update(payload).digest("hex"), metadata: {} };
        expect((await writer.put({ id, size: payload.length, initialValidity: now + 60_000, lastModified: now, source: "upload", meta }, payload)).stored).toBe(true);
        return id;
      };
      const first = await put(0);
      await behind.refresh();
      expect(behind.get(first)).toBeDefined();
      // Cut the lagging replica off from NOTIFY (its LISTEN session killed by the server, as in a
      // restart); with an hour's poll it replays nothing until asked.
      await pgQuery(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query = 'LISTEN condcast_${pgOptions(join(dir, "prune")).schema}' AND pid <> pg_backend_pid()`);
      const later = [await put(1), await put(2), await put(3)];
      expect(await writer.remove(first)).toBe(true);
      expect(await writer.pruneEvents(2)).toBeGreaterThan(0);
      expect(behind.get(first), "not replayed yet").toBeDefined();

      await behind.refresh();
      expect(behind.reloads).toBe(1);
      expect(behind.get(first), "removed while behind").toBeUndefined();
      for (const id of later) expect(behind.get(id)?.id).toBe(id);
      expect(behind.lastSequence).toBe(writer.lastSequence);
      expect(behind.atPath("Test/Prune/2").map((r) => r.id)).toEqual([later[1]]);

      // Within the window it replays again, without a reload.
      const next = await put(4);
      await behind.refresh();
      expect(behind.get(next)?.id).toBe(next);
      expect(behind.reloads).toBe(1);
    } finally {
      await behind.close();
      await writer.close();
    }
  });

  it("a replica whose LISTEN session was killed LISTENs again at its next poll", async () => {
    const options = pgOptions(join(dir, "relisten"));
    const replica = new PgStore(options);
    await replica.open();
    const listening = `SELECT pid FROM pg_stat_activity WHERE query = 'LISTEN condcast_${options.schema}'`;
    try {
      const before = await pgRows(listening);
      expect(before).toHaveLength(1);
      await pgQuery(`SELECT pg_terminate_backend(pid) FROM (${listening}) s`);
      const again = await eventually(async () => {
        const now = await pgRows(listening);
        return now.length === 1 && now[0]!.pid !== before[0]!.pid ? now : undefined;
      }, 5_000, "a new LISTEN session");
      expect(again).toHaveLength(1);
    } finally {
      await replica.close();
    }
  });

  it("the replica that holds the sender lock sweeps by itself, every gcIntervalMs", async () => {
    const sweeping = new PgStore(pgOptions(join(dir, "sweeping"), { orphanGraceMs: 0 }));
    await sweeping.open();
    const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined, debug: () => undefined, child: () => quiet } as never;
    const leader = new LogSender(sweeping, { group: "239.255.40.54", port: 40940, interface: "127.0.0.1", ttl: 1, rate: 0, heartbeatIntervalMs: 100, datagramSize: 1472 } as never, quiet);
    leader.gcIntervalMs = 200;
    const orphan = randomUUID();
    const bucketOf = new S3Payloads(pgOptions(join(dir, "sweeping")).s3);
    await bucketOf.put(orphan, Buffer.from("cut short"));
    try {
      leader.start();
      // The count moves when the sweep's gc() returns, a moment after the payload went.
      await eventually(async () => ((await bucketOf.get(orphan)) === undefined && leader.orphansRemoved > 0 ? true : undefined), 10_000, "the leader's sweep removed the orphan");
      expect(leader.isLeader).toBe(true);
      expect(leader.orphansRemoved).toBe(1);
    } finally {
      await leader.close();
      await sweeping.close();
    }
  });
});
