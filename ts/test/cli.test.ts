// The CLI contract of spec/CLI.md, run as processes (the built CLI in dist/).
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, test } from "vitest";
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
