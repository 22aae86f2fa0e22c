// Uploads built by multipartUpload (the CLI's, the producer's and the formatter's) in a process that
// loaded node:http before undici: the order in which undici's FormData uploads stall.
import "node:http";
import { createHash } from "node:crypto";
import { request } from "undici";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { multipartUpload } from "../../src/server/http/multipart-upload.js";
import { get, randomPayload, startRepository, tempDir, type Running } from "./helpers.js";

describe("multipartUpload", () => {
  const tmp = tempDir();
  let repo: Running;
  beforeAll(async () => {
    repo = await startRepository(tmp.dir, undefined);
  });
  afterAll(async () => {
    await repo.server.close();
    tmp.cleanup();
  });

  test.each([
    ["an empty payload", 0, "empty.root"],
    ["1 MiB", 1 << 20, "calib.root"],
    ["a file name with quotes and a line break", 777, 'a"b\nc.root'],
  ])("%s is stored byte for byte", async (_, size, fileName) => {
    const payload = randomPayload(size, size + 1);
    const upload = multipartUpload("send", fileName, payload);
    const T = Date.now();
    const path = `Upload/Size${size}`;
    const r = await request(`${repo.url}/${path}/${T}/${T + 60_000}`, { method: "POST", body: upload.body, headers: { "content-type": upload.contentType }, headersTimeout: 10_000 });
    const text = await r.body.text();
    expect(r.statusCode, text).toBe(201);
    const back = await get(`${repo.url}/${path}/${T}`);
    expect(back.status).toBe(200);
    expect(back.body.length).toBe(size);
    expect(createHash("md5").update(back.body).digest("hex")).toBe(createHash("md5").update(payload).digest("hex"));
  });

  test("a boundary is fresh per upload and absent from its payload", () => {
    const payload = Buffer.from("x".repeat(100));
    const a = multipartUpload("send", "a", payload);
    const b = multipartUpload("send", "a", payload);
    expect(a.contentType).not.toBe(b.contentType);
    const boundary = a.contentType.split("boundary=")[1]!;
    expect(a.body.toString("latin1").split(`--${boundary}`).length).toBe(3);
  });
});
