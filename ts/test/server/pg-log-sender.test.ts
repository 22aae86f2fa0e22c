// The shared-log sender (repository/log-sender.ts) on PostgreSQL: what it multicasts for an upload is
// the object as uploaded, even when the object changed before the upload went out (the leader lagging
// behind the log, or taking over). A real cache reassembles it by multicast; real PostgreSQL + S3: run
// under scripts/with-pg-s3.sh (make ts-test-pgs3). Multicast group 239.255.40.55, UDP port 40941.
import { createHash, randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { PgStore } from "../../src/server/store/postgres/pg-store.js";
import { LogSender } from "../../src/server/repository/log-sender.js";
import type { ObjectRecord } from "../../src/server/model.js";
import { eventually, get, pgOptions, startCache, type Running } from "./helpers.js";

const MC = { group: "239.255.40.55", port: 40941 };
const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined, debug: () => undefined, child: () => quiet } as never;

describe.skipIf(process.env.CONDCAST_PG_URL === undefined)("shared-log sender on PostgreSQL", () => {
  const dir = mkdtempSync(join(tmpdir(), "condcast-pg-log-sender-"));
  let store: PgStore | undefined;
  let sender: LogSender | undefined;
  let cache: Running | undefined;
  afterAll(async () => {
    await sender?.close();
    await cache?.server.close();
    await store?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("multicasts an upload changed before it went out with its initial validity, then the change", async () => {
    store = new PgStore(pgOptions(dir));
    await store.open();
    const now = Date.now();
    const payload = Buffer.from("gain table, version 1");
    const uploadedUntil = now + 3_600_000;
    const record: ObjectRecord = {
      id: randomUUID(), size: payload.length, initialValidity: uploadedUntil, lastModified: now, source: "upload",
      meta: { path: "Test/LogSender", validFrom: now - 1000, validUntil: uploadedUntil, created: now, contentType: "application/octet-stream", fileName: "gain.root", md5: createHash("md5").update(payload).digest("hex"), metadata: { quality: "raw" } },
    };
    expect((await store.put(record, payload)).stored).toBe(true);
    // Changed before any sender ran: the log holds the upload, then the change.
    const changedUntil = now + 60_000;
    await store.update(record.id, { validUntil: changedUntil, metadata: { quality: "checked" } }, Date.now());
    cache = await startCache(["http://127.0.0.1:9"], MC);
    sender = new LogSender(store, { ...MC, interface: "127.0.0.1", ttl: 1, rate: 0, heartbeatIntervalMs: 100, datagramSize: 1472 } as never, quiet);
    sender.start();
    const held = await eventually(async () => {
      const r = await get(`${cache!.url}/browse/Test/LogSender?Accept=application/json`);
      const o = (JSON.parse(r.body.toString()) as { objects: any[] }).objects[0];
      return o !== undefined && o.validUntil === changedUntil ? o : undefined;
    }, 10_000, "the cache holds the object with its change");
    expect(held.initialValidity).toBe(uploadedUntil);
    expect(held.quality).toBe("checked");
    expect(held.MD5).toBe(record.meta.md5);
  });
});
