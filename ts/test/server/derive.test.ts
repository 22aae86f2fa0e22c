// Derived objects rebuilt inside the same key (docs/KEYS.md "Derived objects and formatters"): a real
// repository with derivations, a real cache on loopback multicast (group 239.255.40.50, port 40901),
// formatters through the TypeScript API, through `condcast formatter` in this process, and through
// the built CLI running the Python example.
import { spawn, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { FormData, request } from "undici";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { runFormatter } from "../../src/cli/formatter.js";
import { serveOptions } from "../../src/cli/serve.js";
import { DerivationConfigError, DerivationSet } from "../../src/server/derive/config.js";
import type { DeriveTask } from "../../src/server/derive/coordinator.js";
import { Formatter } from "../../src/formatter/formatter.js";
import { eventually, get, startCache, startRepository, tempDir, type Running } from "./helpers.js";

const MC = { group: "239.255.40.50", port: 40901 };
const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
const CLI = join(ROOT, "ts", "dist", "cli", "main.js");

const CONFIG = {
  derivations: [
    // Listed before the derivation it reads from: the order comes from the inputs, not the file.
    { name: "final", keytable: "online", output: "Derive/TPC/Final", inputs: ["Derive/TPC/Summary"], formatter: "fmt-b" },
    { name: "summary", keytable: "online", output: "Derive/TPC/Summary", inputs: ["Derive/TPC/Raw/"], formatter: "fmt-a" },
    { name: "fragile", keytable: "fragile", output: "Bad/Out", inputs: ["Bad/In"], formatter: "fragile", timeoutMs: 1500 },
    { name: "ext", keytable: "ext", output: "Ext/Summary", inputs: ["Ext/In/"], formatter: "summary", timeoutMs: 20_000 },
  ],
};

async function json(url: string, body?: unknown): Promise<{ status: number; body: any }> {
  const r = await request(url, { method: body === undefined ? "GET" : "POST", headers: body === undefined ? {} : { "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await r.body.text();
  return { status: r.statusCode, body: text.length > 0 ? JSON.parse(text) : undefined };
}

async function uploadInto(base: string, changeset: string, path: string, validity: string, payload: Buffer): Promise<string> {
  const form = new FormData();
  form.append("send", new Blob([payload]), "object.root");
  const r = await request(`${base}/${path}/${validity}`, { method: "POST", body: form, headers: { "condcast-changeset": changeset } });
  const text = await r.body.text();
  expect(r.statusCode, text).toBe(201);
  return String(r.headers.etag ?? "").replaceAll('"', "");
}

/** Reads the change stream of `formatter` until its first build task (a formatter written by hand). */
async function firstTask(base: string, formatter: string): Promise<DeriveTask> {
  const abort = new AbortController();
  const r = await request(`${base}/changes/stream?formatter=${formatter}&heartbeatMs=100`, { signal: abort.signal });
  let text = "";
  try {
    for await (const chunk of r.body) {
      text += (chunk as Buffer).toString();
      const m = /event: derive\ndata: (.*)\n\n/.exec(text);
      if (m !== null) return JSON.parse(m[1]!) as DeriveTask;
    }
  } finally {
    abort.abort();
  }
  throw new Error(`the stream ended without a task: ${text}`);
}

describe("derived objects and formatters", () => {
  const tmp = tempDir();
  let repo: Running;
  let cache: Running;
  const T = Date.now();
  const validity = `${T - 1000}/${T + 3_600_000}`;
  const formatters: Formatter[] = [];
  const seen: DeriveTask[] = [];

  beforeAll(async () => {
    repo = await startRepository(join(tmp.dir, "repo"), MC, { fecParity: 0, derivations: DerivationSet.parse(JSON.stringify(CONFIG)) });
    cache = await startCache([repo.url], MC);
    const concat = (prefix: string) => async (task: DeriveTask, inputs: readonly { payload: Uint8Array }[]) => {
      seen.push(task);
      return { payload: Buffer.concat([Buffer.from(prefix), ...inputs.map((i) => Buffer.from(i.payload))]) };
    };
    for (const [name, prefix] of [["fmt-a", "A:"], ["fmt-b", "B:"]] as const) {
      const f = new Formatter({ url: repo.url, name, build: concat(prefix), reconnectMs: 100 });
      formatters.push(f);
      void f.run();
    }
    await eventually(async () => ((await json(`${repo.url}/derivations`)).body.formatters.length === 2 ? true : undefined), 5000, "both formatters following");
  });
  afterAll(async () => {
    for (const f of formatters) f.stop();
    await cache.server.close();
    await repo.server.close();
    tmp.cleanup();
  });

  test("a raw update makes one key holding the raw object and both derived ones, in dependency order, seen at once on a cache", async () => {
    const { body: order } = await json(`${repo.url}/derivations`);
    expect(order.derivations.map((d: { name: string }) => d.name)).toEqual(["summary", "final", "fragile", "ext"]);
    const opened = await json(`${repo.url}/changesets`, { keytable: "online" });
    const raw = Buffer.from("raw-gain-42");
    const rawId = await uploadInto(repo.url, opened.body.id, "Derive/TPC/Raw/Gain", validity, raw);
    // Readers on the cache during the commit: once one of the objects is visible, all are.
    let reading = true;
    const violations: string[] = [];
    let reads = 0;
    // Reads one after the other: once any of the three answers 200, every later read must too.
    const reader = (async () => {
      let visible = "";
      while (reading) {
        for (const path of ["Derive/TPC/Raw/Gain", "Derive/TPC/Final", "Derive/TPC/Summary", "Derive/TPC/Final", "Derive/TPC/Raw/Gain"]) {
          const status = (await get(`${cache.url}/${path}/${T}`)).status;
          reads++;
          if (status === 200 && visible === "") visible = path;
          else if (status !== 200 && visible !== "") violations.push(`${path} ${status} after ${visible} was visible`);
        }
      }
    })();
    const committed = await json(`${repo.url}/changesets/${opened.body.id}/commit`, {});
    expect(committed.status, JSON.stringify(committed.body)).toBe(200);
    expect(committed.body).toMatchObject({ keytable: "online", key: 1 });
    expect(committed.body.derived.map((d: { derivation: string; formatter: string }) => `${d.derivation}/${d.formatter}`)).toEqual(["summary/fmt-a", "final/fmt-b"]);
    expect(committed.body.entries.map((e: { path: string }) => e.path).sort()).toEqual(["Derive/TPC/Final", "Derive/TPC/Raw/Gain", "Derive/TPC/Summary"]);
    // The chain ran in order: "final" read the object "summary" had just built, staged in the changeset.
    const [a, b] = seen.slice(-2);
    expect(a!.derivation).toBe("summary");
    expect(a!.inputs.map((i) => i.id)).toEqual([rawId]);
    expect(b!.derivation).toBe("final");
    expect(b!.sequence).toBeGreaterThan(a!.sequence);
    expect(b!.inputs).toMatchObject([{ id: committed.body.derived[0].objectId, path: "Derive/TPC/Summary", staged: true }]);
    await eventually(async () => ((await json(`${cache.url}/keys/online`)).body?.key === 1 ? true : undefined), 5000, "the cache flipped to key 1");
    reading = false;
    await reader;
    expect(violations).toEqual([]);
    expect(reads).toBeGreaterThan(0);
    const final = await get(`${cache.url}/Derive/TPC/Final/${T}`, { "condcast-key": "online/1" });
    expect(final.status).toBe(200);
    expect(final.body.toString()).toBe("B:A:raw-gain-42");
    expect((await json(`${cache.url}/keys/online`)).body.entries).toHaveLength(3);
  });

  test("a formatter that fails, hangs or writes garbage makes the commit fail naming it; nothing of the changeset is visible, the previous key stays", async () => {
    const base = repo.url;
    const stage = async (payload: string): Promise<string> => {
      const opened = await json(`${base}/changesets`, { keytable: "fragile" });
      await uploadInto(base, opened.body.id, "Bad/In", validity, Buffer.from(payload));
      return opened.body.id as string;
    };
    const nothingVisible = async (changeset: string, payload: string): Promise<void> => {
      expect((await json(`${base}/changesets/${changeset}`)).body.state).toBe("aborted");
      expect((await json(`${base}/keys/fragile`)).body.key).toBe(1);
      for (const server of [base, cache.url]) {
        const r = await get(`${server}/Bad/In/${T}`);
        expect(r.body.toString(), server).toBe("good"); // key 1's object, not the failed changeset's
        expect(r.body.toString()).not.toBe(payload);
      }
    };
    // A good formatter first, through `condcast formatter` in this process: key 1.
    const runCli = (program: string): { stop: () => Promise<void>; lines: () => string } => {
      const abort = new AbortController();
      let text = "";
      const out = { write: (s: string) => ((text += s), true) } as unknown as NodeJS.WritableStream;
      const done = runFormatter(["--url", base, "--name", "fragile", "--exec", program, "--exec-timeout", "60000"], {}, out, abort.signal);
      return {
        stop: async () => {
          abort.abort();
          await done;
        },
        lines: () => text,
      };
    };
    const good = runCli(`cp "$CONDCAST_INPUTS" "$CONDCAST_OUTPUT"`);
    const ok = await json(`${base}/changesets/${await stage("good")}/commit`, {});
    expect(ok.status, JSON.stringify(ok.body)).toBe(200);
    await good.stop();
    await eventually(async () => ((await json(`${cache.url}/keys/fragile`)).body?.key === 1 ? true : undefined), 5000, "the cache at fragile/1");

    // Fails: the program exits 3 with a message.
    const crash = runCli(`echo "calibration out of range" >&2; exit 3`);
    const failing = await stage("crash");
    const failed = await json(`${base}/changesets/${failing}/commit`, {});
    expect(failed.status).toBe(502);
    expect(failed.body.message).toMatch(/derivation "fragile" \(formatter "fragile"\) failed: .*exited with code 3: calibration out of range/);
    await crash.stop();
    await nothingVisible(failing, "crash");

    // Hangs: the program outlives the derivation's 1.5 s timeout.
    const hang = runCli("sleep 5");
    const hanging = await stage("hang");
    const started = Date.now();
    const timedOut = await json(`${base}/changesets/${hanging}/commit`, {});
    expect(timedOut.status).toBe(504);
    expect(timedOut.body.message).toMatch(/formatter "fragile"\) did not answer within 1500 ms/);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1400);
    await nothingVisible(hanging, "hang");
    await hang.stop();

    // Garbage: an answer naming an object at another path than the output (a formatter by hand).
    const garbage = await stage("garbage");
    const commit = json(`${base}/changesets/${garbage}/commit`, {});
    const task = await firstTask(base, "fragile");
    expect(task).toMatchObject({ changeset: garbage, output: "Bad/Out", formatter: "fragile" });
    const wrong = await uploadInto(base, garbage, "Bad/Elsewhere", validity, Buffer.from("x"));
    expect((await json(`${base}/derive/tasks/${task.sequence}`, { formatter: "someone-else", objectId: wrong })).status).toBe(409);
    expect((await json(`${base}/derive/tasks/${task.sequence}`, { formatter: "fragile", objectId: wrong })).status).toBe(204);
    const refused = await commit;
    expect(refused.status).toBe(502);
    expect(refused.body.message).toMatch(new RegExp(`formatter "fragile"\\) wrote garbage: object ${wrong} is at Bad/Elsewhere, not at the output path Bad/Out`));
    await nothingVisible(garbage, "garbage");
    expect((await get(`${base}/Bad/Elsewhere/${T}`)).status).toBe(404);
    // A task no longer pending: 404.
    expect((await json(`${base}/derive/tasks/${task.sequence}`, { formatter: "fragile", objectId: wrong })).status).toBe(404);
  });

  test("the Python example through `condcast formatter`: a restarted formatter resumes from its last sequence and misses nothing", async () => {
    const state = join(tmp.dir, "summary.state");
    const start = (): { child: ChildProcess; out: () => string } => {
      let out = "";
      const child = spawn(process.execPath, [CLI, "formatter", "--url", repo.url, "--name", "summary", "--state", state, "--exec", `python3 ${join(ROOT, "examples", "formatters", "summary.py")}`], { stdio: ["ignore", "pipe", "pipe"] });
      child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
      child.stderr!.on("data", (d: Buffer) => (out += d.toString()));
      return { child, out: () => out };
    };
    const stop = async (child: ChildProcess): Promise<void> => {
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      await exited;
    };
    const following = async (n: number): Promise<void> => {
      await eventually(async () => ((await json(`${repo.url}/derivations`)).body.formatters.some((f: { name: string }) => f.name === "summary") === (n > 0) ? true : undefined), 10_000, `formatter summary ${n > 0 ? "following" : "gone"}`);
    };
    const expected = (changeset: string, inputs: [string, Buffer][]): string => {
      const lines = [`derivation ext of changeset ${changeset}`];
      for (const [path, data] of inputs) lines.push(`${path} ${data.length} ${createHash("md5").update(data).digest("hex")}`);
      lines.push(`total ${inputs.reduce((n, [, d]) => n + d.length, 0)} ${createHash("md5").update(Buffer.concat(inputs.map(([, d]) => d))).digest("hex")}`);
      return `${lines.join("\n")}\n`;
    };
    const one = start();
    await following(1);
    const first = await json(`${repo.url}/changesets`, { keytable: "ext" });
    const gain = Buffer.from("gain v1");
    await uploadInto(repo.url, first.body.id, "Ext/In/Gain", validity, gain);
    const c1 = await json(`${repo.url}/changesets/${first.body.id}/commit`, {});
    expect(c1.status, `${JSON.stringify(c1.body)} ${one.out()}`).toBe(200);
    const s1 = c1.body.derived[0].sequence as number;
    expect((await get(`${repo.url}/Ext/Summary/${T}`)).body.toString()).toBe(expected(first.body.id, [["Ext/In/Gain", gain]]));
    await stop(one.child);
    await following(0);
    expect(JSON.parse(readFileSync(state, "utf8"))).toEqual({ lastSequence: s1 });

    // A commit while no formatter follows: held, its task pending; the restarted formatter takes it.
    const second = await json(`${repo.url}/changesets`, { keytable: "ext" });
    const drift = Buffer.from("drift v1");
    await uploadInto(repo.url, second.body.id, "Ext/In/Drift", validity, drift);
    const pendingCommit = json(`${repo.url}/changesets/${second.body.id}/commit`, {});
    await eventually(async () => ((await json(`${repo.url}/derivations`)).body.pending.length === 1 ? true : undefined), 5000, "the task pending");
    expect((await get(`${repo.url}/Ext/In/Drift/${T}`)).status).toBe(404);
    const two = start();
    const c2 = await pendingCommit;
    expect(c2.status, `${JSON.stringify(c2.body)} ${two.out()}`).toBe(200);
    expect(c2.body.key).toBe(2);
    // Gain from key 1, Drift from the changeset: both inputs, in path order.
    expect((await get(`${cache.url}/Ext/Summary/${T}`, { "condcast-key": "ext/2" }).then(async (r) => (r.status === 200 ? r : await eventually(async () => { const x = await get(`${cache.url}/Ext/Summary/${T}`, { "condcast-key": "ext/2" }); return x.status === 200 ? x : undefined; }, 5000, "ext/2 on the cache")))).body.toString()).toBe(
      expected(second.body.id, [["Ext/In/Drift", drift], ["Ext/In/Gain", gain]]),
    );
    await stop(two.child);
    const tasks = two.out().split("\n").filter((l) => l.includes('"event":"task"')).map((l) => JSON.parse(l) as { sequence: number });
    expect(tasks.map((t) => t.sequence)).toEqual([c2.body.derived[0].sequence]);
    expect(tasks[0]!.sequence).toBeGreaterThan(s1);
    expect(JSON.parse(readFileSync(state, "utf8"))).toEqual({ lastSequence: tasks[0]!.sequence });
  });

  test("refusals that change nothing: a changeset holding a derivation's output, an upload while the derivations run", async () => {
    const holds = await json(`${repo.url}/changesets`, { keytable: "online" });
    await uploadInto(repo.url, holds.body.id, "Derive/TPC/Raw/Gain", validity, Buffer.from("raw v2"));
    await uploadInto(repo.url, holds.body.id, "Derive/TPC/Summary", validity, Buffer.from("by hand"));
    const refused = await json(`${repo.url}/changesets/${holds.body.id}/commit`, {});
    expect(refused.status).toBe(409);
    expect(refused.body.message).toMatch(/holds an object at Derive\/TPC\/Summary, which derivation "summary" builds \(formatter "fmt-a"\)/);
    expect((await json(`${repo.url}/changesets/${holds.body.id}`)).body.state).toBe("open");
    await json(`${repo.url}/changesets/${holds.body.id}/abort`, {});

    // An upload that comes in while the derivation runs was not built from: 409, the changeset open.
    const late = await json(`${repo.url}/changesets`, { keytable: "fragile" });
    await uploadInto(repo.url, late.body.id, "Bad/In", validity, Buffer.from("v3"));
    const commit = json(`${repo.url}/changesets/${late.body.id}/commit`, {});
    const task = await firstTask(repo.url, "fragile");
    await uploadInto(repo.url, late.body.id, "Bad/Late", validity, Buffer.from("late"));
    const out = await uploadInto(repo.url, late.body.id, "Bad/Out", validity, Buffer.from("built"));
    expect((await json(`${repo.url}/derive/tasks/${task.sequence}`, { formatter: "fragile", objectId: out })).status).toBe(204);
    const answer = await commit;
    expect(answer.status).toBe(409);
    expect(answer.body.message).toMatch(/which the commit does not name/);
    expect((await json(`${repo.url}/changesets/${late.body.id}`)).body.state).toBe("open");
    expect((await json(`${repo.url}/keys/fragile`)).body.key).toBe(1);
    await json(`${repo.url}/changesets/${late.body.id}/abort`, {});
  });

  test("the change stream: heartbeats, bounded in time, a cache has none, bad names refused", async () => {
    const r = await request(`${repo.url}/changes/stream?formatter=idle&heartbeatMs=100&maxMs=450`);
    expect(r.statusCode).toBe(200);
    expect(r.headers["content-type"]).toMatch(/^text\/event-stream/);
    const text = await r.body.text(); // ends by itself after maxMs
    expect(text.match(/^: heartbeat$/gm)?.length ?? 0).toBeGreaterThanOrEqual(3);
    expect((await json(`${repo.url}/changes/stream?formatter=${encodeURIComponent("no spaces")}`)).status).toBe(400);
    expect((await json(`${cache.url}/changes/stream?formatter=x`)).status).toBe(404);
    expect((await json(`${cache.url}/derivations`)).status).toBe(404);
    // --stream-max-ms caps every stream, whatever ?maxMs asks.
    const capped = tempDir();
    const short = await startRepository(capped.dir, undefined, { streamMaxMs: 300 });
    try {
      const started = Date.now();
      const s = await request(`${short.url}/changes/stream?formatter=idle&heartbeatMs=100&maxMs=60000`);
      await s.body.text();
      expect(Date.now() - started).toBeLessThan(5000);
    } finally {
      await short.server.close();
      capped.cleanup();
    }
    // The outcomes of the tests above (this file's tests run in order): 6 tasks built, one each failed,
    // garbage, timed out; the two API formatters still follow.
    const metrics = (await get(`${repo.url}/metrics`)).body.toString();
    for (const [outcome, n] of [["announced", 9], ["built", 6], ["failed", 1], ["garbage", 1], ["timeout", 1]] as const) expect(metrics, outcome).toContain(`condcast_derive_tasks{outcome="${outcome}"} ${n}\n`);
    expect(metrics).toContain("condcast_derive_streams 2\n");
  });
});

describe("derivation configuration", () => {
  const d = (name: string, output: string, inputs: string[], keytable = "online") => ({ name, keytable, output, inputs, formatter: "f" });
  const parse = (list: unknown[]): DerivationSet => DerivationSet.parse(JSON.stringify({ derivations: list }));

  test("a cycle, or an output that is one of its own inputs, is refused naming it", () => {
    expect(() => parse([d("a", "X/A", ["X/C"]), d("b", "X/B", ["X/A"]), d("c", "X/C", ["X/B"])])).toThrow(new DerivationConfigError("derivations form a cycle: a -> b -> c -> a (each one's output is an input of the next)"));
    expect(() => parse([d("self", "X/Out", ["X/"])])).toThrow(/derivation "self": its output X\/Out is also one of its inputs/);
    // The same paths in two keytables are no cycle.
    expect(parse([d("a", "X/A", ["X/B"], "one"), d("b", "X/B", ["X/A"], "two")]).inOrder()).toHaveLength(2);
    expect(() => parse([d("a", "X/A", ["Y"]), d("b", "X/A", ["Z"])])).toThrow(/both build online:X\/A/);
    expect(() => parse([{ ...d("a", "X/A", ["Y"]), extra: 1 }])).toThrow(/unknown field "extra"/);
    expect(parse([d("c", "X/C", ["X/B"]), d("b", "X/B", ["X/A"]), d("a", "X/A", ["In/"])]).forKeytable("online").map((x) => x.name)).toEqual(["a", "b", "c"]);
  });

  test("serve --derivations FILE: a cyclic file stops the start with the cycle", () => {
    const tmp = tempDir();
    try {
      const file = join(tmp.dir, "derivations.json");
      writeFileSync(file, JSON.stringify({ derivations: [d("gain", "T/Gain", ["T/Drift"]), d("drift", "T/Drift", ["T/Gain"])] }));
      expect(() => serveOptions(["--role", "repository", "--data-dir", tmp.dir, "--derivations", file], {})).toThrow(`--derivations ${file}: derivations form a cycle: gain -> drift -> gain (each one's output is an input of the next)`);
      writeFileSync(file, JSON.stringify({ derivations: [d("gain", "T/Gain", ["T/Raw/"])] }));
      const options = serveOptions(["--role", "repository", "--data-dir", tmp.dir, "--derivations", file], {});
      expect(options !== "help" && options.derivations?.inOrder().map((x) => x.name)).toEqual(["gain"]);
    } finally {
      tmp.cleanup();
    }
  });
});
