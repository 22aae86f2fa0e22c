// The repository role against a real server on an ephemeral port: the CCDB read API (every header and
// status), uploads, PUT/DELETE, the change log, listings, multicast of accepted objects, durability.
import { createHash, randomUUID } from "node:crypto";
import { existsSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { Receiver } from "../../src/receiver/receiver.js";
import type { LifecycleInfo } from "../../src/wire/control.js";
import type { ReceivedObject } from "../../src/wire/object.js";
import { eventually, get, randomPayload, startRepository, tempDir, TEST_STORE, upload, type Running } from "./helpers.js";

const MULTICAST = { group: "239.255.40.1", port: 40501 };
const md5 = (b: Uint8Array): string => createHash("md5").update(b).digest("hex");

describe("repository: CCDB read and write API", () => {
  const tmp = tempDir();
  let repo: Running;
  let receiver: Receiver;
  const received: ReceivedObject[] = [];
  const lifecycles: LifecycleInfo[] = [];
  const payloadA = randomPayload(50_000, 1);
  const payloadB = randomPayload(3_000, 2);
  let idA = "";
  let idB = "";

  beforeAll(async () => {
    receiver = new Receiver({ ...MULTICAST, interface: "127.0.0.1" });
    receiver.on("object", (o) => received.push(o));
    receiver.on("lifecycle", (l) => lifecycles.push(l));
    await receiver.start();
    repo = await startRepository(tmp.dir, MULTICAST);
    const a = await upload(repo.url, "/TPC/Calib/Gain/1000/5000/runNumber=42/Comment=gr%C3%B6%C3%9Fe", payloadA, "gain.root", "application/x-root");
    expect(a.status).toBe(201);
    idA = a.id;
    const b = await upload(repo.url, "/TPC/Calib/Gain/2000/3000/runNumber=43", payloadB, "gain2.root");
    expect(b.status).toBe(201);
    idB = b.id;
  });
  afterAll(async () => {
    await receiver.close();
    await repo.server.close();
    tmp.cleanup();
  });

  test("POST answers 201 with Location and Content-Location /download/<uuid>", async () => {
    const r = await upload(repo.url, "/Test/Upload/100/200", Buffer.from("hello"));
    expect(r.status).toBe(201);
    expect(r.location).toBe(`/download/${r.id}`);
    expect(r.headers["content-location"]).toBe(`/download/${r.id}`);
    expect(r.id).toMatch(/^[0-9a-f-]{36}$/);
    const d = await get(`${repo.url}${r.location}`);
    expect(d.status).toBe(200);
    expect(d.body.toString()).toBe("hello");
  });

  test("GET answers 200 with every CCDB header", async () => {
    const r = await get(`${repo.url}/TPC/Calib/Gain/1500`);
    expect(r.status).toBe(200);
    expect(r.body.equals(payloadA)).toBe(true);
    const h = r.headers;
    expect(h.etag).toBe(`"${idA}"`);
    expect(h["valid-from"]).toBe("1000");
    expect(h["valid-until"]).toBe("5000");
    expect(Number(h.created)).toBeGreaterThan(1_600_000_000_000);
    expect(new Date(String(h["last-modified"])).toUTCString()).toBe(h["last-modified"]);
    expect(h["content-md5"]).toBe(md5(payloadA));
    expect(h["content-type"]).toBe("application/x-root");
    expect(h["content-length"]).toBe(String(payloadA.length));
    expect(h["content-disposition"]).toBe('inline;filename="gain.root"');
    expect(h.runnumber).toBe("42");
    expect(Buffer.from(String(h.comment), "latin1").toString("utf8")).toBe("größe");
    // the newer object B becomes valid at 2000, before A's validity ends
    expect(h["cache-valid-until"]).toBe("2000");
  });

  test("HEAD answers the same headers without a body", async () => {
    const r = await get(`${repo.url}/TPC/Calib/Gain/1500`, {}, "HEAD");
    expect(r.status).toBe(200);
    expect(r.body.length).toBe(0);
    expect(r.headers["content-length"]).toBe(String(payloadA.length));
    expect(r.headers.etag).toBe(`"${idA}"`);
  });

  test("the newest created object valid at the timestamp wins; UUID and metadata select", async () => {
    expect((await get(`${repo.url}/TPC/Calib/Gain/2500`)).headers.etag).toBe(`"${idB}"`);
    expect((await get(`${repo.url}/TPC/Calib/Gain/2500/${idA}`)).headers.etag).toBe(`"${idA}"`);
    expect((await get(`${repo.url}/TPC/Calib/Gain/2500/runNumber=42`)).headers.etag).toBe(`"${idA}"`);
    expect((await get(`${repo.url}/TPC/Calib/Gain/2500/runNumber=44`)).status).toBe(404);
    expect((await get(`${repo.url}/TPC/Calib/Gain/3000`)).headers.etag).toBe(`"${idA}"`); // B's validity ends at 3000 (exclusive)
    expect((await get(`${repo.url}/TPC/Calib/Gain/5000`)).status).toBe(404);
  });

  test("If-Not-After and If-Not-Before limit the creation time", async () => {
    const createdA = Number((await get(`${repo.url}/download/${idA}`, {}, "HEAD")).headers.created);
    const createdB = Number((await get(`${repo.url}/download/${idB}`, {}, "HEAD")).headers.created);
    expect(createdB).toBeGreaterThan(createdA);
    expect((await get(`${repo.url}/TPC/Calib/Gain/2500`, { "If-Not-After": String(createdB - 1) })).headers.etag).toBe(`"${idA}"`);
    expect((await get(`${repo.url}/TPC/Calib/Gain/2500`, { "If-Not-Before": String(createdB) })).headers.etag).toBe(`"${idB}"`);
    expect((await get(`${repo.url}/TPC/Calib/Gain/1500`, { "If-Not-Before": String(createdB) })).status).toBe(404);
    const bad = await get(`${repo.url}/TPC/Calib/Gain/1500`, { "If-Not-After": "yesterday" });
    expect(bad.status).toBe(400);
    expect(JSON.parse(bad.body.toString()).message).toMatch(/if-not-after/i);
  });

  test("If-None-Match: quotes stripped, 304; the first header counts; a non-UUID value is ignored", async () => {
    expect((await get(`${repo.url}/TPC/Calib/Gain/1500`, { "If-None-Match": `"${idA}"` })).status).toBe(304);
    expect((await get(`${repo.url}/TPC/Calib/Gain/1500`, { "If-None-Match": idA })).status).toBe(304);
    expect((await get(`${repo.url}/TPC/Calib/Gain/1500`, { "If-None-Match": `"${idB}"` })).status).toBe(200);
    // the O2 client's habit: the ETag, then a second If-None-Match with the timestamp
    const two = await get(`${repo.url}/TPC/Calib/Gain/1500/`, { "If-None-Match": [`"${idA}"`, "1500"] });
    expect(two.status).toBe(304);
    expect(two.body.length).toBe(0);
    expect((await get(`${repo.url}/TPC/Calib/Gain/1500/`, { "If-None-Match": ["1500", `"${idA}"`] })).status).toBe(200);
    expect((await get(`${repo.url}/download/${idA}`, { "If-None-Match": `"${idA}"` })).status).toBe(304);
  });

  test("the O2 client's URL: trailing slash and k=v/ elements", async () => {
    const r = await get(`${repo.url}/TPC/Calib/Gain/2500/runNumber=42/`);
    expect(r.status).toBe(200);
    expect(r.headers.etag).toBe(`"${idA}"`);
  });

  test("404 and 400 carry a reason", async () => {
    const missing = await get(`${repo.url}/No/Such/Path/1000`);
    expect(missing.status).toBe(404);
    expect(JSON.parse(missing.body.toString()).message).toMatch(/no matching objects/i);
    const noTime = await get(`${repo.url}/TPC/Calib/Gain`);
    expect(noTime.status).toBe(400);
    expect(JSON.parse(noTime.body.toString()).message).toMatch(/timestamp/);
    expect((await get(`${repo.url}/TPC/Calib/Gain/1500/notauuid`)).status).toBe(400);
    expect((await get(`${repo.url}/download/not-a-uuid`)).status).toBe(400);
    expect((await get(`${repo.url}/download/00000000-0000-0000-0000-000000000000`)).status).toBe(404);
  });

  test("/download/<uuid> with Range: one range 206, several 206 multipart/byteranges, invalid 416", async () => {
    const one = await get(`${repo.url}/download/${idA}`, { Range: "bytes=100-199" });
    expect(one.status).toBe(206);
    expect(one.headers["content-range"]).toBe(`bytes 100-199/${payloadA.length}`);
    expect(one.body.equals(payloadA.subarray(100, 200))).toBe(true);
    const suffix = await get(`${repo.url}/download/${idA}`, { Range: "bytes=-10" });
    expect(suffix.body.equals(payloadA.subarray(payloadA.length - 10))).toBe(true);
    const many = await get(`${repo.url}/download/${idA}`, { Range: "bytes=0-9,1000-1099,49990-" });
    expect(many.status).toBe(206);
    const type = String(many.headers["content-type"]);
    expect(type).toBe(`multipart/byteranges; boundary=THIS_STRING_SEPARATES_${idA}`);
    const text = many.body.toString("latin1");
    expect(text.match(/Content-Range: bytes \d+-\d+\/50000/g)).toEqual([
      "Content-Range: bytes 0-9/50000",
      "Content-Range: bytes 1000-1099/50000",
      "Content-Range: bytes 49990-49999/50000",
    ]);
    expect(many.body.includes(payloadA.subarray(1000, 1100))).toBe(true);
    const bad = await get(`${repo.url}/download/${idA}`, { Range: "bytes=60000-70000" });
    expect(bad.status).toBe(416);
    expect(bad.headers["content-range"]).toBe(`bytes */${payloadA.length}`);
    expect((await get(`${repo.url}/download/${idA}`, { Range: "pages=1-2" })).status).toBe(416);
  });

  test("/latest/ and /browse/ in JSON, XML and text, by Accept or ?Accept=", async () => {
    await upload(repo.url, "/TPC/Calib/Noise/1000/5000", Buffer.from("noise"));
    const latest = await get(`${repo.url}/latest/TPC/Calib/.*`, { Accept: "application/json" });
    expect(latest.status).toBe(200);
    const json = JSON.parse(latest.body.toString()) as { objects: Record<string, unknown>[]; subfolders: string[] };
    const paths = json.objects.map((o) => o.path).sort();
    expect(paths).toEqual(["TPC/Calib/Gain", "TPC/Calib/Noise"]);
    const gain = json.objects.find((o) => o.path === "TPC/Calib/Gain")!;
    expect(gain.id).toBe(idB);
    for (const key of ["createTime", "lastModified", "validFrom", "validUntil", "MD5", "fileName", "contentType", "size", "ETag", "Content-MD5", "replicas"]) expect(gain).toHaveProperty(key);
    const browse = JSON.parse((await get(`${repo.url}/browse/TPC/Calib/Gain?Accept=application/json`)).body.toString()) as { objects: { id: string }[] };
    expect(browse.objects.map((o) => o.id)).toEqual([idB, idA]); // newest first
    const atTime = JSON.parse((await get(`${repo.url}/latest/TPC/Calib/Gain/1500?Accept=application/json`)).body.toString()) as { objects: { id: string }[] };
    expect(atTime.objects.map((o) => o.id)).toEqual([idA]);
    const like = JSON.parse((await get(`${repo.url}/browse/TPC/%25/Noise`, { Accept: "application/json" })).body.toString()) as { objects: { path: string }[] };
    expect(like.objects.map((o) => o.path)).toEqual(["TPC/Calib/Noise"]);
    const folders = JSON.parse((await get(`${repo.url}/browse/TPC`, { Accept: "application/json" })).body.toString()) as { subfolders: string[] };
    expect(folders.subfolders).toEqual(["TPC/Calib"]);
    const xml = await get(`${repo.url}/browse/TPC/Calib/Gain`, { Accept: "text/xml" });
    expect(xml.headers["content-type"]).toMatch(/text\/xml/);
    expect(xml.body.toString()).toContain(`<object id="${idA}"`);
    expect(xml.body.toString()).toContain('<metadata key="runNumber" value="42"/>');
    const text = await get(`${repo.url}/browse/TPC`);
    expect(text.headers["content-type"]).toMatch(/text\/plain/);
    expect(text.body.toString()).toContain("Subfolders:\n  TPC/Calib\n");
  });

  test("POST with zero or two parts, or no multipart body, is refused with 400", async () => {
    const { FormData, request } = await import("undici");
    const two = new FormData();
    two.append("send", new Blob([Buffer.from("a")]), "a.bin");
    two.append("other", new Blob([Buffer.from("b")]), "b.bin");
    const r2 = await request(`${repo.url}/Test/Two/100/200`, { method: "POST", body: two });
    expect(r2.statusCode).toBe(400);
    expect(JSON.parse(await r2.body.text()).message).toMatch(/single object/);
    const none = await request(`${repo.url}/Test/None/100/200`, { method: "POST", body: new FormData() });
    expect(none.statusCode).toBe(400);
    await none.body.dump();
    const raw = await request(`${repo.url}/Test/Raw/100/200`, { method: "POST", body: "x", headers: { "content-type": "text/plain" } });
    expect(raw.statusCode).toBe(400);
    await raw.body.dump();
    expect((await upload(repo.url, "/Test/NoTime", Buffer.from("x"))).status).toBe(400);
  });

  test("PUT changes metadata and end of validity (204, then 304); DELETE answers 204; all in /changes and on multicast", async () => {
    const { request } = await import("undici");
    const u = await upload(repo.url, "/Test/Life/100/900/keep=1/drop=2", Buffer.from("life"));
    const put = await request(`${repo.url}/Test/Life/150/800/${u.id}?added=yes&drop=`, { method: "PUT" });
    expect(put.statusCode).toBe(204);
    await put.body.dump();
    const after = await get(`${repo.url}/Test/Life/150`);
    expect(after.headers["valid-until"]).toBe("800");
    expect(after.headers["initialvaliditylimit"]).toBe("900");
    expect(after.headers.added).toBe("yes");
    expect(after.headers.keep).toBe("1");
    expect(after.headers.drop).toBeUndefined();
    const same = await request(`${repo.url}/Test/Life/150/800?added=yes`, { method: "PUT" });
    expect(same.statusCode).toBe(304);
    await same.body.dump();
    const del = await request(`${repo.url}/Test/Life/150`, { method: "DELETE" });
    expect(del.statusCode).toBe(204);
    await del.body.dump();
    expect((await get(`${repo.url}/Test/Life/150`)).status).toBe(404);
    const missing = await request(`${repo.url}/Test/Life/150`, { method: "DELETE" });
    expect(missing.statusCode).toBe(404);
    await missing.body.dump();

    const log = JSON.parse((await get(`${repo.url}/changes?since=0`)).body.toString()) as { senderId: string; lastSequence: number; changes: { sequence: number; action: string; id: string; validUntil: number }[] };
    expect(log.changes.map((c) => c.sequence)).toEqual(log.changes.map((_, i) => i + 1));
    expect(log.lastSequence).toBe(log.changes.length);
    const mine = log.changes.filter((c) => c.id === u.id);
    expect(mine.map((c) => c.action)).toEqual(["uploaded", "updated", "deleted"]);
    expect(mine[1]!.validUntil).toBe(800);
    const tail = JSON.parse((await get(`${repo.url}/changes?since=${log.lastSequence - 1}`)).body.toString()) as { changes: { sequence: number }[] };
    expect(tail.changes.map((c) => c.sequence)).toEqual([log.lastSequence]);
    expect((await get(`${repo.url}/changes?since=-1`)).status).toBe(400);

    // multicast: the upload as an object, the update and deletion as lifecycle messages, same numbers
    const seqOf = (action: string): number => mine.find((c) => c.action === action)!.sequence;
    const obj = await eventually(() => received.find((o) => o.id === u.id), 5000, "multicast object");
    expect(obj.sequence).toBe(seqOf("uploaded"));
    expect(obj.senderId).toBe(log.senderId);
    const upd = await eventually(() => lifecycles.find((l) => l.objectId === u.id && l.action === "updated"), 5000, "update");
    expect(upd.sequence).toBe(seqOf("updated"));
    expect(upd.validUntil).toBe(800);
    expect(upd.metadata).toEqual({ added: "yes", keep: "1" });
    const gone = await eventually(() => lifecycles.find((l) => l.objectId === u.id && l.action === "deleted"), 5000, "deletion");
    expect(gone.sequence).toBe(seqOf("deleted"));
  });

  test("/health, /status and /metrics", async () => {
    expect(JSON.parse((await get(`${repo.url}/health`)).body.toString())).toEqual({ status: "ok", role: "repository", reasons: [] });
    const status = JSON.parse((await get(`${repo.url}/status`)).body.toString()) as { objects: number; lastSequence: number; senderId: string };
    expect(status.objects).toBeGreaterThanOrEqual(3);
    expect(status.senderId).toMatch(/^[0-9a-f]{16}$/);
    const metrics = (await get(`${repo.url}/metrics`)).body.toString();
    expect(metrics).toMatch(/^condcast_uploads_total \d+$/m);
    expect(metrics).toMatch(/^condcast_bytes_held \d+$/m);
  });
});

describe("repository: 303 to /download/<uuid> and the O2 client following Location / Content-Location", () => {
  test("follows Location and Content-Location", async () => {
    const tmp = tempDir();
    const repo = await startRepository(tmp.dir, undefined, { redirectReads: true });
    try {
      const payload = randomPayload(1234, 9);
      const u = await upload(repo.url, "/Redirect/Me/10/20", payload);
      const r = await get(`${repo.url}/Redirect/Me/15/`);
      expect(r.status).toBe(303);
      expect(r.headers.location).toBe(`/download/${u.id}`);
      expect(r.headers["content-location"]).toBe(`/download/${u.id}`);
      expect(r.headers.etag).toBe(`"${u.id}"`);
      for (const target of [r.headers.location, r.headers["content-location"]]) {
        const followed = await get(`${repo.url}${String(target)}`);
        expect(followed.status).toBe(200);
        expect(followed.body.equals(payload)).toBe(true);
      }
      // with the UUID in the URL the object itself is served
      expect((await get(`${repo.url}/Redirect/Me/15/${u.id}`)).status).toBe(200);
    } finally {
      await repo.server.close();
      tmp.cleanup();
    }
  });
});

describe("repository: durability", () => {
  // The PostgreSQL + S3 backend's orphans: test/server/pg-store.test.ts.
  test.skipIf(TEST_STORE !== "embedded")("payload files that no committed row names (a write cut short) are removed at start, and never served", async () => {
    const tmp = tempDir();
    try {
      let repo = await startRepository(tmp.dir, undefined);
      const kept = await upload(repo.url, "/Orphans/Kept/1/2", Buffer.from("kept"));
      await repo.server.close();
      // What a crash between the payload's rename and the row's commit, or a full disk, leaves.
      const orphan = randomUUID();
      writeFileSync(join(tmp.dir, "payloads", orphan), "half");
      writeFileSync(join(tmp.dir, "payloads", `${randomUUID()}.tmp`), "partial");
      repo = await startRepository(tmp.dir, undefined);
      try {
        expect(readdirSync(join(tmp.dir, "payloads"))).toEqual([kept.id]);
        expect(existsSync(join(tmp.dir, "payloads", orphan))).toBe(false);
        expect((await get(`${repo.url}/download/${orphan}`)).status).toBe(404);
        expect((await get(`${repo.url}/download/${kept.id}`)).body.toString()).toBe("kept");
      } finally {
        await repo.server.close();
      }
    } finally {
      tmp.cleanup();
    }
  });

  test("after a restart every acknowledged upload is there and the sequence and sender id continue", async () => {
    const tmp = tempDir();
    try {
      let repo = await startRepository(tmp.dir, undefined);
      const uploaded: { id: string; payload: Buffer }[] = [];
      for (let i = 0; i < 8; i++) {
        const payload = randomPayload(10_000 + i * 777, 100 + i);
        const u = await upload(repo.url, `/Durable/Obj${i % 3}/${1000 + i}/${9000}/i=${i}`, payload);
        expect(u.status).toBe(201);
        uploaded.push({ id: u.id, payload });
      }
      const before = JSON.parse((await get(`${repo.url}/changes?since=0&limit=0`)).body.toString()) as { senderId: string; lastSequence: number };
      expect(before.lastSequence).toBe(8);
      await repo.server.close();

      repo = await startRepository(tmp.dir, undefined);
      for (const { id, payload } of uploaded) {
        const r = await get(`${repo.url}/download/${id}`);
        expect(r.status).toBe(200);
        expect(r.body.equals(payload)).toBe(true);
      }
      const after = JSON.parse((await get(`${repo.url}/changes?since=0&limit=0`)).body.toString()) as { senderId: string; lastSequence: number };
      expect(after).toEqual(before);
      const next = await upload(repo.url, "/Durable/Next/1/2", Buffer.from("next"));
      const log = JSON.parse((await get(`${repo.url}/changes?since=8`)).body.toString()) as { changes: { sequence: number; id: string }[] };
      expect(log.changes).toEqual([expect.objectContaining({ sequence: 9, id: next.id })]);
      await repo.server.close();
    } finally {
      tmp.cleanup();
    }
  });
});

// With a shared change log the sender follows the log; uploads do not wait on the backlog.
describe.skipIf(TEST_STORE !== "embedded")("repository: multicast backlog", () => {
  // Multicast paced at 2 MB/s, so a 1 MB object takes half a second to go out after it is stored.
  const slow = { group: "239.255.40.4", port: 40571 };
  const payload = randomPayload(1_000_000, 7);

  test.each([
    ["over the bound, the acknowledgement waits until multicast has caught up", 0, 0],
    ["within the bound, the acknowledgement comes once stored, multicast follows", 64 * 1024 * 1024, payload.length],
  ])("%s", async (_label, maxMulticastBacklog, backlogAtAck) => {
    const tmp = tempDir();
    const repo = await startRepository(tmp.dir, slow, { rate: 2_000_000, maxMulticastBacklog });
    try {
      const u = await upload(repo.url, "/Backlog/Obj/1/2", payload);
      expect(u.status).toBe(201);
      const status = JSON.parse((await get(`${repo.url}/status`)).body.toString()) as { multicastBacklogBytes: number };
      expect(status.multicastBacklogBytes).toBe(backlogAtAck);
      await eventually(async () => ((JSON.parse((await get(`${repo.url}/status`)).body.toString()) as { multicastBacklogBytes: number }).multicastBacklogBytes === 0 ? true : undefined), 10_000, "backlog drained");
    } finally {
      await repo.server.close();
      tmp.cleanup();
    }
  });
});

// The repository multicasts an upload while its store makes it durable (SPEC 10.4); a cache that asks
// for it in that time (a repair after its quiet time) must get it, not a 404 it would drop it on.
describe.skipIf(TEST_STORE !== "embedded")("repository: reads of an upload still being made durable", () => {
  const mc = { group: "239.255.40.19", port: 40591 };

  test("GET /download/<id> asked after its first datagram and before the 201 waits for the store", async () => {
    const tmp = tempDir();
    const repo = await startRepository(tmp.dir, mc);
    const receiver = new Receiver({ group: mc.group, port: mc.port, interface: "127.0.0.1", receivePath: "main" });
    await receiver.start();
    try {
      const payload = randomPayload(30_000_000, 11);
      let acknowledged = false;
      const uploading = upload(repo.url, "/Durable/Read/1/2", payload).then((u) => {
        acknowledged = true;
        return u;
      });
      const id = await eventually(async () => receiver.incomplete()[0]?.objectId, 10_000, "the upload's first datagram");
      const askedBeforeAck = !acknowledged;
      const read = await get(`${repo.url}/download/${id}`);
      expect((await uploading).status).toBe(201);
      expect(askedBeforeAck).toBe(true); // else this test checked nothing
      expect(read.status).toBe(200);
      expect(md5(read.body)).toBe(md5(payload));
    } finally {
      await receiver.close();
      await repo.server.close();
      tmp.cleanup();
    }
  });
});
