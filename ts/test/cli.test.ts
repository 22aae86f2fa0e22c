// The CLI contract of spec/CLI.md, run as processes (the built CLI in dist/).
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, test } from "vitest";
import { Sender } from "../src/sender/sender.js";
import { bytes } from "./helpers.js";

const CLI = join(dirname(fileURLToPath(import.meta.url)), "..", "dist", "cli", "main.js");
let nextPort = 40300;
/** recv's receive paths: 40450-40451, then 40840-40849. */
let nextRecvPort = 40450;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(args: string[], env: Record<string, string> = {}, timeoutMs = 30_000): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`${args.join(" ")} did not exit in ${timeoutMs} ms; stderr: ${stderr}`));
    }, timeoutMs);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Starts `recv` and resolves once it has joined the group, with a promise of its exit. */
async function startRecv(args: string[], env: Record<string, string> = {}): Promise<{ done: Promise<Run> }> {
  let joined: () => void;
  const listening = new Promise<void>((resolve) => (joined = resolve));
  const done = new Promise<Run>((resolve) => {
    const child = spawn(process.execPath, [CLI, "recv", ...args], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
      if (stderr.includes('"event":"listening"')) joined();
    });
    child.on("close", (code) => {
      joined();
      resolve({ code, stdout, stderr });
    });
  });
  await listening;
  return { done };
}

describe("send and recv", () => {
  test("recv prints exactly the line send prints; flags and CONDCAST_* variables mix", async () => {
    const port = String(nextPort++);
    const dir = mkdtempSync(join(tmpdir(), "condcast-cli-"));
    const file = join(dir, "gain.root");
    const payload = bytes(300_000, 11);
    writeFileSync(file, payload);
    const recv = await startRecv(["--count", "1", "--timeout", "20", "--out", join(dir, "out")], { CONDCAST_PORT: port, CONDCAST_GROUP: "239.255.39.3" });
    const send = await run(
      [
        "send", file, "--path", "TPC/Calib/Gain", "--group", "239.255.39.3",
        "--valid-from", "1700000000000", "--valid-until", "1700086400000",
        "--meta", "runNumber=523897", "--meta", "Grüße=a=b ≥ c", "--meta", "10=ten", "--meta", "9=nine", "--meta", "__proto__=p",
        "--id", "3f2504e0-4f89-11d3-9a0c-0305e82c3301", "--content-type", "application/x-root", "--filename", "gain.root",
      ],
      { CONDCAST_PORT: port, CONDCAST_DATAGRAM_SIZE: "8972", CONDCAST_SENDER_ID: "00000000000000ab" },
    );
    expect(send.stderr).toBe("");
    expect(send.code).toBe(0);
    const result = await recv.done;
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(send.stdout);
    const line = JSON.parse(send.stdout) as Record<string, unknown>;
    expect(line).toMatchObject({
      id: "3f2504e0-4f89-11d3-9a0c-0305e82c3301",
      senderId: "00000000000000ab",
      sequence: 1,
      path: "TPC/Calib/Gain",
      size: payload.length,
      validFrom: 1700000000000,
      validUntil: 1700086400000,
      contentType: "application/x-root",
      fileName: "gain.root",
    });
    // Wire order (UTF-8 bytes) in the text itself, also for keys a JS object would reorder or drop.
    expect(send.stdout).toContain('"metadata":{"10":"ten","9":"nine","Grüße":"a=b ≥ c","__proto__":"p","runNumber":"523897"}}');
    expect(Object.keys(line)).toEqual(["id", "senderId", "sequence", "path", "size", "md5", "validFrom", "validUntil", "created", "contentType", "fileName", "metadata"]);
    expect(readFileSync(join(dir, "out", "3f2504e0-4f89-11d3-9a0c-0305e82c3301")).equals(payload)).toBe(true);
    const counters = result.stderr.split("\n").filter((l) => l.includes('"event":"counters"')).map((l) => JSON.parse(l) as { objectsCompleted: number; fec: unknown });
    expect(counters[0]!.objectsCompleted).toBe(1);
    expect(counters[0]!.fec).toEqual({ blocksDecoded: 0, parityUsed: 0, fragmentsRecovered: 0 });
  });

  test("--fec-parity 0 sends no parity fragments; fec-bench prints its JSON line", async () => {
    const port = String(nextPort++);
    const dir = mkdtempSync(join(tmpdir(), "condcast-cli-"));
    writeFileSync(join(dir, "obj"), bytes(100_000, 3));
    const recv = await startRecv(["--count", "1", "--timeout", "20", "--port", port, "--group", "239.255.39.5"]);
    const send = await run(["send", join(dir, "obj"), "--path", "A/B", "--port", port, "--group", "239.255.39.5", "--fec-parity", "0"]);
    expect(send.code).toBe(0);
    const result = await recv.done;
    expect(result.code).toBe(0);
    const counters = JSON.parse(result.stderr.split("\n").find((l) => l.includes('"event":"counters"'))!) as { fragments: number };
    // 100 000 bytes plus 60–200 bytes of metadata are 72 fragments of 1392 bytes; with parity 72 + 4.
    expect(counters.fragments).toBe(72);
    const bench = await run(["fec-bench", "--seconds", "0.2", "--block", "20", "--parity", "4", "--symbol-size", "100"]);
    expect(bench.code).toBe(0);
    expect(JSON.parse(bench.stdout)).toMatchObject({ impl: "ts", symbolSize: 100, block: 20, parity: 4, kernel: "simd" });
  });

  // The native receive path where the addon is built (`make ts`), else the worker.
  const native = existsSync(join(dirname(CLI), "..", "native", "udp_recv.node"));
  const threadPath = native ? "native" : "worker";
  test.each<[string, string[], Record<string, string>, string]>([
    ["--drain-thread on (CONDCAST_DRAIN_THREAD): a drain thread", [], { CONDCAST_DRAIN_THREAD: "on", CONDCAST_NATIVE_RECV: "1" }, threadPath],
    ["--drain-thread off: the main thread", [], { CONDCAST_DRAIN_THREAD: "off" }, "main"],
    ["no flag and CONDCAST_NATIVE_RECV=0: the worker", [], { CONDCAST_NATIVE_RECV: "0" }, "worker"],
    ["--receive-path worker (it wins over --drain-thread off)", ["--receive-path", "worker", "--drain-thread", "off"], {}, "worker"],
    ["--receive-path main", ["--receive-path", "main"], {}, "main"],
    ...(native ? [["CONDCAST_RECEIVE_PATH=native", [], { CONDCAST_RECEIVE_PATH: "native" }, "native"] as [string, string[], Record<string, string>, string]] : []),
  ])("recv with %s receives; the listening line names the path; the built worker script loads", async (_label, flags, env, path) => {
    const port = String(nextRecvPort);
    nextRecvPort = nextRecvPort === 40451 ? 40840 : nextRecvPort + 1;
    const dir = mkdtempSync(join(tmpdir(), "condcast-cli-"));
    writeFileSync(join(dir, "obj"), bytes(2_000_000, 4));
    const recv = await startRecv(["--count", "1", "--timeout", "20", "--port", port, "--group", "239.255.39.43", "--ring-size", "8388608", ...flags], env);
    const send = await run(["send", join(dir, "obj"), "--path", "A/B", "--port", port, "--group", "239.255.39.43", "--datagram-size", "8972"]);
    expect(send.code).toBe(0);
    const result = await recv.done;
    expect([result.code, result.stderr]).toEqual([0, expect.any(String)]);
    expect(JSON.parse(result.stdout).size).toBe(2_000_000);
    const lines = result.stderr.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.find((l) => l.event === "listening")).toMatchObject({ ringBytes: path === "main" ? 0 : 8388608, receivePath: path, receiveBufferRequested: 32 * 1024 * 1024 });
    expect(lines.find((l) => l.event === "counters")).toMatchObject({ ringOverflows: 0, objectsCompleted: 1 });
  });

  test("a receiver with a key file rejects unsigned objects and times out with exit 1", async () => {
    const port = String(nextPort++);
    const dir = mkdtempSync(join(tmpdir(), "condcast-cli-"));
    writeFileSync(join(dir, "key.hex"), "00112233 44556677\n8899aabb ccddeeff\n");
    writeFileSync(join(dir, "obj"), bytes(5000));
    const recv = await startRecv(["--count", "1", "--timeout", "1.5", "--port", port, "--group", "239.255.39.4", "--key-file", join(dir, "key.hex"), "--key-id", "3"]);
    const send = await run(["send", join(dir, "obj"), "--path", "A/B", "--port", port, "--group", "239.255.39.4"]);
    expect(send.code).toBe(0);
    const result = await recv.done;
    expect(result.code).toBe(1);
    expect(result.stdout).toBe("");
    const counters = JSON.parse(result.stderr.split("\n").find((l) => l.includes('"event":"counters"'))!) as { drops: Record<string, number> };
    expect(counters.drops.unauthenticated).toBeGreaterThan(0);
  });
});

describe("changesets on the command line (SPEC 11)", () => {
  /** 41710-41719: the changeset tests' ports. */
  let port = 41710;
  const GROUP = "239.255.39.60";

  function files(sizes: number[]): string[] {
    const dir = mkdtempSync(join(tmpdir(), "condcast-cli-cs-"));
    return sizes.map((size, i) => {
      const file = join(dir, `obj-${i}`);
      writeFileSync(file, bytes(size, 20 + i));
      return file;
    });
  }

  const parse = (text: string) => text.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as Record<string, unknown>);

  test("send --changeset new: recv prints the three objects only at delivery, in id order, then the changeset event", async () => {
    const p = String(port++);
    const recv = await startRecv(["--count", "3", "--timeout", "20", "--port", p, "--group", GROUP]);
    const send = await run(["send", ...files([1000, 40_000, 200_000]), "--path", "A/B", "--port", p, "--group", GROUP, "--changeset", "new", "--key", "5", "--remove", "Z/Y", "--remove", "C/D", "--remove", "Z/Y"]);
    expect([send.code, send.stderr]).toEqual([0, ""]);
    const sent = parse(send.stdout);
    expect(sent).toHaveLength(4);
    const objects = sent.slice(0, 3);
    const commit = sent[3]!;
    const changeset = objects[0]!.changeset as string;
    expect(changeset).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(objects.every((o) => o.changeset === changeset)).toBe(true);
    const ids = objects.map((o) => o.id as string).sort();
    expect(commit).toEqual({
      event: "commit",
      senderId: objects[0]!.senderId,
      sequence: 4,
      keytable: "online",
      key: 5,
      parentKey: 4,
      changeset,
      objectCount: 3,
      objectIds: ids,
      removedPaths: ["C/D", "Z/Y"],
      committedAt: expect.any(Number),
      aborted: false,
    });
    const result = await recv.done;
    expect(result.code).toBe(0);
    const received = parse(result.stdout);
    expect(received.map((o) => o.id)).toEqual(ids);
    for (const r of received) expect(r).toEqual(objects.find((o) => o.id === r.id));
    const log = parse(result.stderr);
    // The commit event keeps the order and fields of send's commit line.
    const { event: _e, ...commitFields } = commit;
    const logged = log.find((l) => l.event === "commit")!;
    expect(JSON.stringify(logged)).toBe(JSON.stringify({ event: "commit", ...commitFields }));
    const delivered = log.find((l) => l.event === "changeset");
    expect(JSON.stringify(delivered)).toBe(JSON.stringify({ event: "changeset", senderId: objects[0]!.senderId, keytable: "online", key: 5, parentKey: 4, changeset, objects: 3 }));
    expect(log.indexOf(logged)).toBeLessThan(log.indexOf(delivered!));
  });

  test("--abort: the receiver prints nothing of it and drops its staged objects as uncommitted", async () => {
    const p = String(port++);
    const recv = await startRecv(["--count", "1", "--timeout", "20", "--port", p, "--group", GROUP]);
    const sender = ["--port", p, "--group", GROUP, "--sender-id", "00000000000000ee", "--path", "A/B"];
    const aborted = await run(["send", ...files([3000, 3000]), ...sender, "--changeset", "cs-aborted", "--abort"]);
    expect(aborted.code).toBe(0);
    expect(parse(aborted.stdout)[2]).toMatchObject({ event: "commit", key: 0, parentKey: 0, changeset: "cs-aborted", objectCount: 2, aborted: true });
    const first = await run(["send", ...files([100]), ...sender, "--changeset", "cs-two", "--key", "2"]);
    expect(first.code).toBe(0);
    const result = await recv.done;
    expect(result.code).toBe(0); // --count 1: cs-two's object
    expect(parse(result.stdout).map((o) => o.id)).toEqual([parse(first.stdout)[0]!.id]);
    const log = parse(result.stderr);
    const abortedIds = parse(aborted.stdout).slice(0, 2).map((o) => o.id);
    expect(log.filter((l) => l.event === "object_dropped").map((l) => [l.id, l.reason]).slice(0, 2)).toEqual(abortedIds.map((id) => [id, "uncommitted"]));
    const counters = log.find((l) => l.event === "counters") as { objectsDropped: Record<string, number> };
    expect(counters.objectsDropped.uncommitted).toBeGreaterThanOrEqual(2);
  });

  test("a stale Commit: commit_ignored, its objects dropped as uncommitted", async () => {
    const p = String(port++);
    const recv = await startRecv(["--timeout", "2.5", "--port", p, "--group", GROUP]);
    const sender = ["--port", p, "--group", GROUP, "--sender-id", "00000000000000ef", "--path", "A/B"];
    const newer = await run(["send", ...files([100]), ...sender, "--changeset", "cs-3", "--key", "3"]);
    const older = await run(["send", ...files([100, 200]), ...sender, "--changeset", "cs-2", "--key", "2"]);
    expect([newer.code, older.code]).toEqual([0, 0]);
    const result = await recv.done;
    expect(result.code).toBe(1); // no --count: ends by the timeout
    expect(parse(result.stdout).map((o) => o.id)).toEqual([parse(newer.stdout)[0]!.id]);
    const log = parse(result.stderr);
    expect(JSON.stringify(log.find((l) => l.event === "commit_ignored"))).toBe(JSON.stringify({ event: "commit_ignored", senderId: "00000000000000ef", keytable: "online", key: 2, heldKey: 3, changeset: "cs-2" }));
    const olderIds = parse(older.stdout).slice(0, 2).map((o) => o.id).sort();
    expect(log.filter((l) => l.event === "object_dropped").map((l) => l.id).sort()).toEqual(olderIds);
    expect((log.find((l) => l.event === "counters") as { objectsDropped: Record<string, number> }).objectsDropped.uncommitted).toBe(2);
  });

  test("--stage-timeout drops objects whose Commit never comes", async () => {
    const p = Number(port++);
    const recv = await startRecv(["--timeout", "3", "--stage-timeout", "300", "--port", String(p), "--group", GROUP]);
    // The library's sender: an object of a changeset and no Commit after it.
    const sender = new Sender({ group: GROUP, port: p, interface: "127.0.0.1", heartbeatIntervalMs: 0 });
    await sender.start();
    const payload = bytes(500);
    const sent = await sender.send({ payload, path: "A/B", validFrom: 1, validUntil: 2, changeset: "cs-never" });
    await sender.close();
    const result = await recv.done;
    expect(result.stdout).toBe("");
    const log = parse(result.stderr);
    expect(log.filter((l) => l.event === "object_dropped")).toEqual([{ event: "object_dropped", id: sent.id, reason: "uncommitted" }]);
    expect((log.find((l) => l.event === "counters") as { objectsDropped: Record<string, number> }).objectsDropped.uncommitted).toBe(1);
  });
});

describe("usage errors exit 2 with a reason", () => {
  test.each([
    [["send", "x"], "--path is required"],
    [["send", "x", "--path", "A", "--datagram-size", "100"], "--datagram-size must be in [256, 65507]"],
    [["recv", "--group", "10.0.0.1"], "--group must be an IPv4 multicast address"],
    [["recv", "--interface", "eth0"], "--interface must be the IPv4 address of an interface"],
    [["send", "x", "--path", "A", "--id", "nope"], "--id takes a UUID"],
    [["send", "x", "--path", "A", "--meta", "novalue"], "--meta takes key=value"],
    [["recv", "--bogus"], "Unknown option '--bogus'"],
    [["frobnicate"], "unknown command"],
    [["send", "x", "--path", "A", "--fec-parity", "2"], "FEC parity ratio must be in [0, 1]"],
    [["send", "x", "--path", "A", "--fec-parity", "0.1", "--fec-block", "240"], "exceeds 255 fragments per block"],
    [["fec-bench", "--block", "250", "--parity", "10"], "at most 255"],
    [["recv", "--drain-thread", "maybe"], "--drain-thread must be on or off"],
    [["recv", "--ring-size", "1000"], "--ring-size must be in [262144, 1073741824]"],
    [["recv", "--receive-path", "gpu"], "--receive-path must be native, worker or main, got gpu"],
    [["send", "x", "--path", "A", "--key", "2"], "--key goes with --changeset"],
    [["send", "x", "--path", "A", "--changeset", "a/b"], "--changeset takes new or 1 to 64 characters"],
    [["send", "x", "--path", "A", "--changeset", "new", "--key", "0"], "--key must be in [1, 9007199254740991]"],
    [["send", "x", "--path", "A", "--changeset", "new", "--key", "3", "--parent-key", "3"], "--parent-key must be below --key (3)"],
    [["send", "x", "--path", "A", "--changeset", "new", "--keytable", "on line"], "--keytable takes 1 to 64 characters"],
    [["recv", "--stage-timeout", "0"], "--stage-timeout must be in [1, 2147483647]"],
  ])("%j", async (args, message) => {
    const result = await run(args);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(message);
  });

  test("a key file that is not a key is a usage error", async () => {
    const dir = mkdtempSync(join(tmpdir(), "condcast-cli-"));
    writeFileSync(join(dir, "short.hex"), "abcd");
    const result = await run(["recv", "--key-file", join(dir, "short.hex")]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("key must be at least 16 bytes");
  });
});
