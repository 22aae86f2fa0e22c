// What every cell sends, and the scenario columns of the matrix.
import { writeFileSync } from "node:fs";
import { join } from "node:path";

export interface Scenario {
  readonly name: string;
  readonly description: string;
  readonly mtu: number;
  readonly datagramSize: number;
  /** Sender and receivers share this key; `wrongKey` receivers get another one and must receive nothing. */
  readonly hmac: boolean;
  /** Every sender to all receivers at once instead of one receiver per cell. */
  readonly allReceiversAtOnce: boolean;
}

export const SCENARIOS: readonly Scenario[] = [
  { name: "plain", description: "1500 MTU, 1472-byte datagrams", mtu: 1500, datagramSize: 1472, hmac: false, allReceiversAtOnce: false },
  { name: "jumbo", description: "9000 MTU, 8972-byte datagrams", mtu: 9000, datagramSize: 8972, hmac: false, allReceiversAtOnce: false },
  { name: "hmac", description: "HMAC-SHA256 on every datagram; a receiver with the wrong key gets nothing", mtu: 1500, datagramSize: 1472, hmac: true, allReceiversAtOnce: false },
  { name: "three-receivers", description: "one sender, a ts, a cpp and a java receiver at once", mtu: 1500, datagramSize: 1472, hmac: false, allReceiversAtOnce: true },
];

export const METADATA = ["runNumber=523897", "Grüße=Größe ≥ 10 µm — 測定", "ObjectType=o2::tpc::CalDet<float>"];
export const BURST_COUNT = 200;
export const BURST_INTERVAL_MS = 20; // 50 Hz

export interface Payloads {
  /** The single objects: 0 B, 1 B, a fragment boundary, 1 MB, 10 MB. */
  readonly singles: string[];
  /** The burst of small objects. */
  readonly burst: string[];
  readonly bytes: number;
}

function seeded(length: number, seed: number): Buffer {
  const out = Buffer.allocUnsafe(length);
  let x = seed || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/**
 * Writes the payload files. `boundary` is the payload size that makes an object's envelope exactly
 * one fragment at 1472-byte datagrams (computed by the caller from the reference encoder).
 */
export function writePayloads(dir: string, boundary: number): Payloads {
  const sizes: [string, number][] = [
    ["empty", 0],
    ["one-byte", 1],
    ["boundary", boundary],
    ["one-mb", 1_000_000],
    ["ten-mb", 10_000_000],
  ];
  let bytes = 0;
  const singles = sizes.map(([name, size], i) => {
    const file = join(dir, name);
    writeFileSync(file, seeded(size, i + 1));
    bytes += size;
    return file;
  });
  const burst: string[] = [];
  for (let i = 0; i < BURST_COUNT; i++) {
    const file = join(dir, `burst-${String(i).padStart(3, "0")}`);
    writeFileSync(file, seeded(500 + i, 1000 + i));
    bytes += 500 + i;
    burst.push(file);
  }
  return { singles, burst, bytes };
}
