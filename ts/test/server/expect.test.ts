// The Expect request header on uploads, sent over raw TCP so the header goes out as written (libcurl
// drops an empty Expect; nothing requires a client to). An empty expectation is no expectation: the
// repository stores the upload and a cache redirects it; 100-continue keeps working; any other
// expectation is a 417 with a reason.
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { get, rawRequest, startCache, startRepository, tempDir, type Running } from "./helpers.js";

const BOUNDARY = "condcast-expect-test";
const payload = Buffer.from("expect test payload\n");
const body = Buffer.concat([
  Buffer.from(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="send"; filename="e.root"\r\nContent-Type: application/octet-stream\r\n\r\n`),
  payload,
  Buffer.from(`\r\n--${BOUNDARY}--\r\n`),
]);

/** POSTs the multipart body to `path` with the extra header lines; the answer as text (latin1). */
async function post(base: string, path: string, ...headers: string[]): Promise<string> {
  const answer = await rawRequest(base, `POST ${path} HTTP/1.1`, [`Content-Type: multipart/form-data; boundary=${BOUNDARY}`, `Content-Length: ${body.length}`, ...headers], body);
  return answer.toString("latin1");
}

describe("Expect on uploads", () => {
  const tmp = tempDir();
  let repo: Running;
  let cache: Running;
  beforeAll(async () => {
    repo = await startRepository(tmp.dir, undefined);
    cache = await startCache([repo.url], undefined);
  });
  afterAll(async () => {
    await cache.server.close();
    await repo.server.close();
    tmp.cleanup();
  });

  test("an empty Expect: the repository stores the upload", async () => {
    for (const [i, header] of ["Expect:", "Expect: ", "Expect: \t "].entries()) {
      const answer = await post(repo.url, `/Expect/Empty/${1000 + i}/2000`, header);
      expect(answer).toMatch(/^HTTP\/1\.1 201 Created\r\n/);
      const id = /^etag: "([0-9a-f-]{36})"\r$/im.exec(answer)![1]!;
      const stored = await get(`${repo.url}/download/${id}`);
      expect([stored.status, stored.body.equals(payload)]).toEqual([200, true]);
    }
  });

  test("an empty Expect: a cache answers its usual 307 to the repository", async () => {
    const answer = await post(cache.url, "/Expect/Empty/1000/2000", "Expect:");
    expect(answer).toMatch(/^HTTP\/1\.1 307 Temporary Redirect\r\n/);
    expect(answer).toContain(`\r\nlocation: ${repo.url}/Expect/Empty/1000/2000\r\n`);
  });

  test("Expect: 100-continue still gets 100 Continue, then the answer", async () => {
    const answer = await post(repo.url, "/Expect/Continue/1000/2000", "Expect: 100-continue");
    expect(answer).toMatch(/^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 201 Created\r\n/);
    const redirected = await post(cache.url, "/Expect/Continue/1000/2000", "Expect: 100-continue");
    expect(redirected).toMatch(/^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 307 Temporary Redirect\r\n/);
  });

  test("any other expectation is 417 with the reason as JSON, and nothing is stored", async () => {
    for (const base of [repo.url, cache.url]) {
      const answer = await post(base, "/Expect/Other/1000/2000", "Expect: 200-ok");
      expect(answer).toMatch(/^HTTP\/1\.1 417 Expectation Failed\r\n/);
      expect(JSON.parse(answer.slice(answer.indexOf("\r\n\r\n") + 4))).toEqual({ statusCode: 417, error: "Expectation Failed", message: 'unsupported expectation "200-ok" (only 100-continue is)' });
    }
    expect((await get(`${repo.url}/Expect/Other/1500`)).status).toBe(404);
  });
});
