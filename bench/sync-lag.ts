// Sync lag at a steady producer rate (issue 15): two instances on namespace hosts (cluster/instances.ts),
// instance 1 fed by `condcast produce` at each rate for --seconds, instance 2 mirroring its prefix (poll
// every 200 ms). Sampled every 500 ms from the mirror's GET /instances: the lag in changes and in seconds
// (age of the oldest change not yet applied); after the producer stops, the catch-up time (until the
// mirror has applied the owner's last sequence). Needs root; `make bench-sync` runs it under the lock.
//   node bench/sync-lag.ts [--rates 10,50,200] [--seconds 15] [--sizes 1k-16k] [--changeset-size 0] [--json]
import { parseArgs } from "node:util";
import { setTimeout as sleep } from "node:timers/promises";
import { InstanceCluster } from "../cluster/instances.ts";

const { values } = parseArgs({ options: { rates: { type: "string", default: "10,50,200" }, seconds: { type: "string", default: "15" }, sizes: { type: "string", default: "1k-16k" }, "changeset-size": { type: "string", default: "0" }, json: { type: "boolean", default: false } } });
const rates = values.rates.split(",").map(Number);
const seconds = Number(values.seconds);

interface MirrorView {
  appliedSequence: number;
  ownerSequence: number;
  lagChanges: number;
  lagSeconds: number;
}

function quantile(xs: number[], q: number): number {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
}

const cluster = new InstanceCluster({ instances: 2, cachesPerInstance: 1, pollMs: 200 });
const results: Record<string, unknown>[] = [];
try {
  await cluster.start();
  const [owner, mirror] = cluster.instances as [(typeof cluster.instances)[0], (typeof cluster.instances)[0]];
  const view = async (): Promise<MirrorView> => ((await cluster.getJson(mirror.repository, `${mirror.url}/instances`)) as { mirrors: MirrorView[] }).mirrors[0]!;
  const ownerLast = async (): Promise<number> => ((await cluster.getJson(owner.repository, `${owner.url}/status`)) as { lastSequence: number }).lastSequence;
  for (const [k, rate] of rates.entries()) {
    const paths = Array.from({ length: 5 }, (_, i) => `Inst1/R${k}/Det${i}`).join(",");
    const producing = cluster.produce(1, ["--rate", String(rate), "--duration", String(seconds), "--sizes", values.sizes, "--paths", paths, "--changeset-size", values["changeset-size"], "--keytable", `bench${k}`]);
    let done = false;
    void producing.then(() => (done = true));
    const lagChanges: number[] = [];
    const lagSeconds: number[] = [];
    await sleep(1000);
    while (!done) {
      const v = await view();
      lagChanges.push(v.lagChanges);
      lagSeconds.push(v.lagSeconds);
      await sleep(500);
    }
    const summary = await producing;
    const stoppedAt = Date.now();
    const last = await ownerLast();
    let catchUpMs = -1;
    while (Date.now() - stoppedAt < 60_000) {
      if ((await view()).appliedSequence >= last) {
        catchUpMs = Date.now() - stoppedAt;
        break;
      }
      await sleep(50);
    }
    const row = { rate, seconds, producer: JSON.parse(summary.stdout.trim() || "{}"), samples: lagChanges.length, lagChangesP50: quantile(lagChanges, 0.5), lagChangesMax: Math.max(0, ...lagChanges), lagSecondsP50: quantile(lagSeconds, 0.5), lagSecondsP95: quantile(lagSeconds, 0.95), lagSecondsMax: Math.max(0, ...lagSeconds), catchUpMs };
    results.push(row);
    if (!values.json) console.log(`rate ${rate}/s for ${seconds} s (${row.producer.objects} objects, ${row.producer.errors} errors): lag p50 ${row.lagChangesP50} changes / ${row.lagSecondsP50.toFixed(2)} s, p95 ${row.lagSecondsP95.toFixed(2)} s, max ${row.lagChangesMax} changes / ${row.lagSecondsMax.toFixed(2)} s; caught up ${catchUpMs} ms after the producer stopped`);
  }
  if (values.json) console.log(JSON.stringify(results));
} finally {
  await cluster.stop();
}
