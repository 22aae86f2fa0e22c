// The silent-group detector alone, on a clock of its own.
import { describe, expect, test } from "vitest";
import { GroupWatch, type SilenceOptions } from "../../src/server/cache/group-watch.js";

const OPTIONS: SilenceOptions = { intervals: 3, minMs: 1000, startupGraceMs: 5000, pollMs: 1000, rejoinMs: 10_000, forgetMs: 60_000 };

describe("group watch", () => {
  test("a known sender silent for its intervals (at least minMs) begins one episode; its next heartbeat ends it", () => {
    const watch = new GroupWatch(OPTIONS, 0);
    expect(watch.heartbeat("a", 1000, "repo", 100)).toBeNull();
    expect(watch.check(3000)).toBeNull(); // 2.9 s < 3 intervals
    const silent = watch.check(3101);
    expect(silent).toMatchObject({ kind: "silent", episode: { since: 100, noticedAt: 3101 } });
    expect(silent?.episode.reason).toMatch(/no heartbeat from repo for 3001 ms \(interval 1000 ms\)/);
    expect(watch.check(5000)).toBeNull(); // one episode, however long
    expect(watch.episodes).toBe(1);
    expect(watch.heartbeat("a", 1000, "repo", 6000)).toMatchObject({ kind: "heard", lastedMs: 5900 });
    expect(watch.episode).toBeNull();
    expect(watch.toJSON(6000)).toMatchObject({ state: "hearing", episodes: 1, silentMs: 5900 });
  });

  test("short intervals do not flap: minMs is the least silence reported", () => {
    const watch = new GroupWatch(OPTIONS, 0);
    watch.heartbeat("a", 100, "fast", 0);
    expect(watch.check(999)).toBeNull();
    expect(watch.check(1001)?.kind).toBe("silent");
  });

  test("nothing heard within the start-up grace is an episode; so is an upstream pinned but never heard", () => {
    const none = new GroupWatch(OPTIONS, 1000);
    expect(none.check(6000)).toBeNull();
    expect(none.check(6001)?.episode.reason).toMatch(/no heartbeat heard in 5001 ms since start/);
    const pinned = new GroupWatch(OPTIONS, 0);
    pinned.pin("up");
    pinned.heartbeat("other", 1000, "other", 10); // someone else speaks, keeps speaking
    pinned.heartbeat("other", 1000, "other", 5000);
    expect(pinned.check(5001)?.episode.reason).toMatch(/no heartbeat from the upstream's sender up since start/);
    expect(pinned.heartbeat("up", 1000, "up", 5100)?.kind).toBe("heard");
  });

  test("a sender that is not pinned and went away is forgotten: its silence ends", () => {
    const watch = new GroupWatch(OPTIONS, 0);
    watch.heartbeat("gone", 1000, "producer", 0);
    expect(watch.check(4000)?.kind).toBe("silent");
    expect(watch.check(60_001)).toMatchObject({ kind: "heard" });
    expect(Object.keys(watch.toJSON(60_001).senders as object)).toEqual([]);
    // a pinned one is never forgotten
    const pinned = new GroupWatch(OPTIONS, 0);
    pinned.pin("up");
    pinned.heartbeat("up", 1000, "up", 0);
    expect(pinned.check(4000)?.kind).toBe("silent");
    expect(pinned.check(1_000_000)).toBeNull();
    expect(pinned.episode).not.toBeNull();
  });
});
