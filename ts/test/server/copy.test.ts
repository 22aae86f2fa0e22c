// condcast copy: an embedded repository copied to PostgreSQL + S3 answers the same CCDB reads and keys,
// and the verification finds a corrupted payload. Needs scripts/with-pg-s3.sh (CONDCAST_TEST_STORE=pgs3:
// make ts-test-pgs3); skipped otherwise.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { FormData, request } from "undici";
import { afterAll, describe, expect, test } from "vitest";
import { S3Payloads } from "../../src/server/store/postgres/s3-payloads.js";
import { CLI, TEST_STORE, pgOptions, randomPayload, startRepository, tempDir, type Running } from "./helpers.js";

async function call(url: string, method: "GET" | "POST" | "PUT" | "DELETE" = "GET", body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: any; raw: Buffer }> {
  const r = await request(url, { method, headers: { accept: "application/json", ...(body === undefined ? {} : { "content-type": "application/json" }), ...headers }, body: body === undefined ? undefined : JSON.stringify(body) });
  const raw = Buffer.from(await r.body.arrayBuffer());
  let parsed: unknown;
  try {
    parsed = raw.length > 0 ? JSON.parse(raw.toString()) : undefined;
  } catch {
    parsed = undefined;
  }
  return { status: r.statusCode, body: parsed, raw };
}

async function uploadTo(base: string, urlPath: string, payload: Buffer, changeset?: string): Promise<string> {
  const form = new FormData();
  form.append("send", new Blob([payload]), "object.root");
  const r = await request(`${base}${urlPath}`, { method: "POST", body: form, headers: changeset === undefined ? {} : { "condcast-changeset": changeset } });
  await r.body.dump();
  expect(r.statusCode).toBe(201);
  return String(r.headers.etag).replaceAll('"', "");
}

/** The CCDB view of a repository: every object's listing entry (not Last-Modified), payload MD5, and the keys. */
async function view(base: string): Promise<unknown> {
  const listing = (await call(`${base}/browse/.*`)).body.objects as Record<string, unknown>[];
  const objects = [];
  for (const o of listing.sort((a, b) => String(a.id).localeCompare(String(b.id)))) {
    const { "Last-Modified": _a, lastModified: _b, ...kept } = o;
    const payload = await call(`${base}/download/${String(o.id)}`);
    objects.push({ ...kept, payloadMd5: createHash("md5").update(payload.raw).digest("hex") });
  }
  const keys = [];
  for (const k of [1, 2]) keys.push((await call(`${base}/keys/calib/${k}`)).body);
  return { objects, keys };
}

function runCopy(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, "copy", ...args], { encoding: "utf8", env: process.env, timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe.skipIf(TEST_STORE !== "pgs3")("condcast copy: embedded -> PostgreSQL + S3", () => {
  const dirs = [tempDir(), tempDir()];
  const [source, target] = dirs as [ReturnType<typeof tempDir>, ReturnType<typeof tempDir>];
  let repo: Running | undefined;
  afterAll(async () => {
    await repo?.server.close();
    for (const d of dirs) d.cleanup();
  });

  test("the copy answers as the original (objects, validity, metadata, deletes, keys), and a corrupted payload fails the verification", async () => {
    repo = await startRepository(source.dir, undefined, { store: "embedded" });
    const base = repo.url;
    const plain = [];
    for (let i = 0; i < 3; i++) plain.push(await uploadTo(base, `/Plain/Det${i}/1000/900000000000/run=${i}`, randomPayload(3000 + i * 1000, i)));
    const gone = await uploadTo(base, "/Plain/Gone/1000/900000000000", randomPayload(500, 9));
    expect((await call(`${base}/Plain/Gone/1000/${gone}`, "DELETE")).status).toBe(204);
    expect((await call(`${base}/Plain/Det0/1000/${plain[0]}?quality=bad`, "PUT")).status).toBe(204);
    expect((await call(`${base}/Plain/Det1/1000/800000000000/${plain[1]}`, "PUT")).status).toBeLessThan(300);
    // Two keys of keytable calib: key 2 replaces A, keeps B, removes C.
    const cs1 = (await call(`${base}/changesets`, "POST", { keytable: "calib" })).body.id as string;
    for (const p of ["A", "B", "C"]) await uploadTo(base, `/Calib/${p}/1000/900000000000`, randomPayload(2000, p.charCodeAt(0)), cs1);
    expect((await call(`${base}/changesets/${cs1}/commit`, "POST", {})).status).toBe(200);
    const cs2 = (await call(`${base}/changesets`, "POST", { keytable: "calib" })).body.id as string;
    await uploadTo(base, "/Calib/A/2000/900000000000/gen=2", randomPayload(2500, 77), cs2);
    expect((await call(`${base}/changesets/${cs2}/commit`, "POST", { removedPaths: ["Calib/C"] })).status).toBe(200);
    const original = await view(base);
    await repo.server.close();
    repo = undefined;

    const pg = pgOptions(target.dir);
    const flags = ["--from-data-dir", source.dir, "--pg-url", pg.url, "--pg-schema", pg.schema!, "--s3-endpoint", pg.s3.endpoint, "--s3-bucket", pg.s3.bucket, "--s3-prefix", pg.s3.prefix!];
    const copied = runCopy(flags);
    expect(copied.code, copied.stderr).toBe(0);
    const summary = JSON.parse(copied.stdout.trim());
    expect(summary).toMatchObject({ objects: 7, keys: 2, keytables: 1, verified: { objects: 7, keys: 2, problems: [] } });
    // Into a target that holds something: refused, nothing written.
    const again = runCopy(flags);
    expect(again.code).not.toBe(0);
    expect(again.stderr).toMatch(/empty/);

    repo = await startRepository(target.dir, undefined, { store: "pgs3" });
    expect(await view(repo.url)).toEqual(original);
    const victim = (await call(`${repo.url}/browse/Plain/Det2`)).body.objects[0].id as string;
    await repo.server.close();
    repo = undefined;

    // One payload overwritten in the bucket behind the store's back: the verification names it.
    await new S3Payloads(pg.s3).put(victim, Buffer.from("not the calibration"));
    const checked = runCopy([...flags, "--verify-only"]);
    expect(checked.code).toBe(1);
    expect(JSON.parse(checked.stdout.trim()).verified.problems.join("\n")).toContain(`${victim}: the target's payload has MD5`);
  }, 120_000);
});
