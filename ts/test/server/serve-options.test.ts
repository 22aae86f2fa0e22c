// `condcast serve` settings: flags, CONDCAST_* variables, a JSON config file, and --help.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { UsageError } from "../../src/cli/options.js";
import { SERVE_FLAGS, SERVE_USAGE, parseBytes, serveOptions } from "../../src/cli/serve.js";
import { tempDir } from "./helpers.js";

describe("condcast serve options", () => {
  test("--derivations, --instance, --auth and --alerts: a missing or malformed file stops the start naming the flag, the file and the reason", () => {
    const tmp = tempDir();
    try {
      const bad = join(tmp.dir, "bad.json");
      writeFileSync(bad, "{ not json");
      const missing = join(tmp.dir, "absent.json");
      for (const flag of ["derivations", "instance", "auth", "alerts"]) {
        for (const file of [bad, missing]) {
          const start = (): unknown => serveOptions(["--role", "repository", "--data-dir", tmp.dir, `--${flag}`, file], {});
          expect(start).toThrow(UsageError);
          expect(start).toThrow(new RegExp(`^--${flag} ${file.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}: .+`));
        }
      }
    } finally {
      tmp.cleanup();
    }
  });

  test("defaults: a cache on 127.0.0.1:8080 with a 1 GiB budget and the spec's multicast defaults", () => {
    const o = serveOptions([], {});
    if (o === "help") throw new Error("unexpected help");
    expect(o.role).toBe("cache");
    expect([o.host, o.port]).toEqual(["127.0.0.1", 8080]);
    expect(o.cache!.budgetBytes).toBe(1024 ** 3);
    expect(o.cache!.multicast).toMatchObject({ group: "239.255.204.219", port: 3342, interface: "127.0.0.1" });
    expect(o.cache!.repairQuietMs).toBeLessThan(1000);
  });

  test("flags beat CONDCAST_* variables, which beat the config file", () => {
    const tmp = tempDir();
    try {
      const file = join(tmp.dir, "serve.json");
      writeFileSync(file, JSON.stringify({ role: "cache", memory: "2M", upstream: ["http://a:1", "http://b:2"], warm: "TPC,GLO", listen: "127.0.0.1:9000" }));
      const o = serveOptions(["--config", file, "--listen", "127.0.0.1:9100"], { CONDCAST_MEMORY: "3M", CONDCAST_PORT: "40777" });
      if (o === "help") throw new Error("unexpected help");
      expect(o.port).toBe(9100);
      expect(o.cache!.budgetBytes).toBe(3 * 1024 * 1024);
      expect(o.cache!.upstream).toEqual(["http://a:1", "http://b:2"]);
      expect(o.cache!.warm).toEqual(["TPC", "GLO"]);
      expect(o.cache!.multicast?.port).toBe(40777);
      writeFileSync(file, JSON.stringify({ nonsense: 1 }));
      expect(() => serveOptions(["--config", file], {})).toThrow(/unknown setting/);
    } finally {
      tmp.cleanup();
    }
  });

  test("a repository given two stores (one from the environment) refuses to start", () => {
    expect(() => serveOptions(["--role", "repository", "--data-dir", "/tmp/x"], { CONDCAST_PG_URL: "postgres://db/ccdb" })).toThrow(/--data-dir and --pg-url name two different stores/);
    expect(() => serveOptions(["--role", "repository", "--pg-url", "postgres://db/ccdb", "--s3-endpoint", "http://s3", "--s3-bucket", "b"], { CONDCAST_DATA_DIR: "/tmp/x" })).toThrow(/two different stores/);
    // An empty variable is no value.
    expect(() => serveOptions(["--role", "repository", "--data-dir", "/tmp/x"], { CONDCAST_PG_URL: "" })).not.toThrow();
  });

  test("the repository role needs --data-dir and takes the multicast flags for its sender", () => {
    expect(() => serveOptions(["--role", "repository"], {})).toThrow(UsageError);
    const o = serveOptions(["--role", "repository", "--data-dir", "/tmp/x", "--group", "239.255.40.9", "--ttl", "1", "--redirect-reads", "true"], {});
    if (o === "help") throw new Error("unexpected help");
    expect(o.dataDir).toBe("/tmp/x");
    expect(o.redirectReads).toBe(true);
    expect(o.sender).toMatchObject({ group: "239.255.40.9", ttl: 1 });
  });

  test("bad values are usage errors", () => {
    expect(() => serveOptions(["--role", "proxy"], {})).toThrow(/--role/);
    expect(() => serveOptions(["--listen", "8080"], {})).toThrow(/--listen/);
    expect(() => serveOptions(["--upstream", "ftp://x"], {})).toThrow(/--upstream/);
    expect(() => serveOptions(["--memory", "lots"], {})).toThrow(/--memory/);
    expect(() => serveOptions(["--group", "10.0.0.1"], {})).toThrow(/--group/);
    expect(parseBytes("10k", "memory")).toBe(10240);
  });

  test("readiness reports (cache) and the farm view's bounds (repository)", () => {
    const cache = serveOptions([], {});
    if (cache === "help") throw new Error("unexpected help");
    expect(cache.report).toEqual({ intervalMs: 2000, name: undefined });
    const named = serveOptions(["--report-interval", "0", "--name", "node17:8080"], {});
    expect(named !== "help" && named.report).toEqual({ intervalMs: 0, name: "node17:8080" });
    expect(() => serveOptions(["--report-interval", "50"], {})).toThrow(/--report-interval/);
    expect(() => serveOptions(["--name", "two words"], {})).toThrow(/--name/);
    const repo = serveOptions(["--role", "repository", "--data-dir", "/tmp/x", "--farm-forget", "5000", "--farm-max-caches", "20"], {});
    expect(repo !== "help" && repo.farm).toEqual({ forgetAfterMs: 5000, maxCaches: 20 });
    const defaults = serveOptions(["--role", "repository", "--data-dir", "/tmp/x"], {});
    expect(defaults !== "help" && defaults.farm).toEqual({ forgetAfterMs: 600_000, maxCaches: 10_000 });
  });

  test("--alerts FILE: read and checked at start", () => {
    const dir = mkdtempSync(join(tmpdir(), "condcast-alerts-"));
    const good = join(dir, "good.json");
    writeFileSync(good, JSON.stringify({ repeatMs: 60_000, webhooks: [{ url: "http://127.0.0.1:9000/hook", format: "mattermost" }] }));
    const o = serveOptions(["--role", "repository", "--data-dir", "/tmp/x", "--alerts", good], {});
    expect(o !== "help" && o.alerts).toMatchObject({ repeatMs: 60_000, webhooks: [{ url: "http://127.0.0.1:9000/hook", format: "mattermost", name: "127.0.0.1:9000" }] });
    const bad = join(dir, "bad.json");
    writeFileSync(bad, JSON.stringify({ thresholds: { behindMs: "soon" } }));
    expect(() => serveOptions(["--role", "repository", "--data-dir", "/tmp/x", "--alerts", bad], {})).toThrow(/--alerts .*bad\.json: thresholds\.behindMs must be a number/);
    expect(() => serveOptions(["--role", "repository", "--data-dir", "/tmp/x", "--alerts", join(dir, "none.json")], {})).toThrow(/--alerts .*none\.json/);
    rmSync(dir, { recursive: true, force: true });
  });

  test("--help lists every flag", () => {
    expect(serveOptions(["--help"], {})).toBe("help");
    for (const flag of Object.keys(SERVE_FLAGS)) expect([flag, SERVE_USAGE.includes(`--${flag}`)]).toEqual([flag, true]);
  });
});
