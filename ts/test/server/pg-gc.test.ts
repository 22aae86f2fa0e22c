// PgStore.gc(): a payload in the bucket that no row names (an upload cut short) is removed once older
// than the grace; one a committed row names stays. Real PostgreSQL + S3: run under scripts/with-pg-s3.sh.
import { createHash, randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PgStore } from "../../src/server/store/postgres/pg-store.js";
import { S3Payloads } from "../../src/server/store/postgres/s3-payloads.js";
import type { ObjectRecord } from "../../src/server/model.js";
import { LogSender } from "../../src/server/repository/log-sender.js";
import { eventually, pgOptions } from "./helpers.js";

const GRACE_MS = 60_000;

describe.skipIf(process.env.CONDCAST_PG_URL === undefined)("PgStore.gc (orphan payloads)", () => {
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
      await eventually(async () => ((await bucketOf.get(orphan)) === undefined ? true : undefined), 10_000, "the leader's sweep removed the orphan");
      expect(leader.isLeader).toBe(true);
      expect(leader.orphansRemoved).toBe(1);
    } finally {
      await leader.close();
      await sweeping.close();
    }
  });
});
