// sync/ mirror checkpoints on PostgreSQL (PgStore as MirrorCheckpoints): written in the transaction of
// what a mirror applied, replayed by every replica, and a change never applied twice when two replicas
// try the same one (a lead lost mid-change). Two PgStore replicas on one schema; real PostgreSQL + S3:
// run under scripts/with-pg-s3.sh (make ts-test-pgs3).
import { createHash, randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CheckpointMoved, PgStore } from "../../src/server/store/postgres/pg-store.js";
import type { ObjectRecord } from "../../src/server/model.js";
import { eventually, pgOptions } from "./helpers.js";

function object(path: string, text: string): { record: ObjectRecord; payload: Buffer } {
  const payload = Buffer.from(text);
  const now = Date.now();
  return {
    payload,
    record: {
      id: randomUUID(), size: payload.length, initialValidity: now + 1000, lastModified: now, source: "upload",
      meta: { path, validFrom: now, validUntil: now + 1000, created: now, contentType: "application/octet-stream", fileName: "", md5: createHash("md5").update(payload).digest("hex"), metadata: {} },
    },
  };
}

const at = (sequence: number) => ({ mirror: "alpha:Shared", sequence, changedAt: 1000 + sequence, appliedAt: Date.now() });

describe.skipIf(process.env.CONDCAST_PG_URL === undefined)("PgStore: mirror checkpoints shared by replicas", () => {
  const dir = mkdtempSync(join(tmpdir(), "condcast-pg-checkpoints-"));
  let one: PgStore;
  let two: PgStore;

  beforeAll(async () => {
    // Same directory, so the same schema and bucket prefix: two replicas of one repository.
    one = new PgStore(pgOptions(dir));
    two = new PgStore(pgOptions(dir));
    await one.open();
    await two.open();
  });
  afterAll(async () => {
    await one?.close();
    await two?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("writes the checkpoint with the change, and the other replica sees both", async () => {
    expect(one.checkpoint("alpha:Shared").sequence).toBe(0);
    const a = object("Shared/A", "first");
    await one.withCheckpoint(at(5), async () => void (await one.put(a.record, a.payload)));
    expect(one.checkpoint("alpha:Shared")).toMatchObject({ sequence: 5, changedAt: 1005 });
    await eventually(async () => (two.checkpoint("alpha:Shared").sequence === 5 && two.get(a.record.id) !== undefined ? true : undefined), 5000, "replayed on the other replica");
  });

  it("refuses a change the other replica applied already (its checkpoint is there): nothing written", async () => {
    const late = object("Shared/B", "applied twice?");
    const before = two.lastSequence;
    await expect(two.withCheckpoint(at(5), async () => void (await two.put(late.record, late.payload)))).rejects.toBeInstanceOf(CheckpointMoved);
    expect(two.get(late.record.id)).toBeUndefined();
    expect(two.lastSequence).toBe(before);
    // The next change applies.
    const next = object("Shared/B", "the next change");
    await two.withCheckpoint(at(6), async () => void (await two.put(next.record, next.payload)));
    await eventually(async () => (one.checkpoint("alpha:Shared").sequence === 6 && one.get(next.record.id) !== undefined ? true : undefined), 5000, "replayed on the first replica");
  });

  it("a checkpoint alone moves forward only", async () => {
    await one.withCheckpoint(at(9), async () => undefined);
    expect(one.checkpoint("alpha:Shared").sequence).toBe(9);
    await eventually(async () => (two.checkpoint("alpha:Shared").sequence === 9 ? true : undefined), 5000, "replayed");
    await two.withCheckpoint(at(7), async () => undefined); // a replica that looked less far
    expect(two.checkpoint("alpha:Shared").sequence).toBe(9);
  });

  it("keeps the checkpoints over a reopen", async () => {
    const again = new PgStore(pgOptions(dir));
    await again.open();
    try {
      expect(again.checkpoint("alpha:Shared")).toMatchObject({ sequence: 9, changedAt: 1009 });
    } finally {
      await again.close();
    }
  });
});
