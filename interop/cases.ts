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
  /** Random loss (nftables) on the receiver hosts, percent; the objects must still all arrive. */
  readonly lossPercent?: number;
  /** The senders' --fec-parity (default: the senders' default, 0.05). */
  readonly fecParity?: number;
  /** Which objects: the standard set, or the FEC set (no single-fragment objects, see FEC_BURST). */
  readonly payloads?: "standard" | "fec";
  /**
   * A changeset cell (SPEC 11) instead: an aborted changeset of the CHANGESET objects, then the same
   * files committed as key 1 of `online`; the receiver prints exactly the committed three.
   */
  readonly changeset?: boolean;
}

export const SCENARIOS: readonly Scenario[] = [
  { name: "plain", description: "1500 MTU, 1472-byte datagrams", mtu: 1500, datagramSize: 1472, hmac: false, allReceiversAtOnce: false },
  { name: "jumbo", description: "9000 MTU, 8972-byte datagrams", mtu: 9000, datagramSize: 8972, hmac: false, allReceiversAtOnce: false },
  { name: "hmac", description: "HMAC-SHA256 on every datagram; a receiver with the wrong key gets nothing", mtu: 1500, datagramSize: 1472, hmac: true, allReceiversAtOnce: false },
  { name: "three-receivers", description: "one sender, a ts, a cpp and a java receiver at once", mtu: 1500, datagramSize: 1472, hmac: false, allReceiversAtOnce: true },
  // FEC: receivers have no HTTP to repair from, so every object must be rebuilt from parity alone.
  // Objects of one fragment are left out: with m = 1 both of their datagrams are lost with
  // probability p² (1e-4 at 1 %), which would make a cell fail now and then by design.
  {
    name: "fec-1",
    description: "1 % random loss (nftables) at the receiver, 10 % parity: every object rebuilt from parity, no repair",
    mtu: 1500, datagramSize: 1472, hmac: false, allReceiversAtOnce: false, lossPercent: 1, fecParity: 0.1, payloads: "fec",
  },
  {
    // At 5 % loss 10 % parity leaves a 242-fragment block undecodable with probability 0.0017 (about
    // 5 % of 10 MB objects, see docs/FEC.md), so this column uses 20 %.
    name: "fec-5",
    description: "5 % random loss (nftables) at the receiver, 20 % parity: every object rebuilt from parity, no repair",
    mtu: 1500, datagramSize: 1472, hmac: false, allReceiversAtOnce: false, lossPercent: 5, fecParity: 0.2, payloads: "fec",
  },
  {
    name: "changeset",
    description: "a changeset of three objects (3 kB, 100 kB, 1 MB) after an aborted one: only the committed three are printed, at delivery, in id order, with a changeset event",
    mtu: 1500, datagramSize: 1472, hmac: false, allReceiversAtOnce: false, changeset: true,
  },
  {
    // Parity 0.5: the 3 kB object is 3 fragments + 2 parity and is lost only when 3 of its 5 datagrams
    // are (10 · 0.01³ = 1e-5); 100 kB is 72 + 36 and 1 MB 5 blocks of about 144 + 72, which 1 % loss
    // never exhausts. The Commit datagrams (kind 4) have no parity and are lost like the rest: each goes
    // out in 3 copies (SPEC 4.5), lost all together with 0.01³ = 1e-6.
    name: "changeset-loss-1",
    description: "the changeset cell with 1 % random loss (nftables) on every datagram at the receiver, Commits included, 50 % parity: every object rebuilt from parity, every Commit carried by its copies, no repair",
    mtu: 1500, datagramSize: 1472, hmac: false, allReceiversAtOnce: false, lossPercent: 1, fecParity: 0.5, changeset: true,
  },
];

/** The changeset cells' objects: small and medium. */
export const CHANGESET_SIZES = [3000, 100_000, 1_000_000];

export const METADATA = ["runNumber=523897", "Grüße=Größe ≥ 10 µm — 測定", "ObjectType=o2::tpc::CalDet<float>"];
export const BURST_COUNT = 200;
export const BURST_INTERVAL_MS = 20; // 50 Hz
/** The FEC columns' burst: objects of 100 kB (72 fragments, several parity fragments each). */
export const FEC_BURST_COUNT = 40;
export const FEC_BURST_SIZE = 100_000;

export interface Payloads {
  /** The single objects: 0 B, 1 B, a fragment boundary, 1 MB, 10 MB. */
  readonly singles: string[];
  /** The burst of small objects. */
  readonly burst: string[];
  readonly bytes: number;
  /** The FEC columns' objects: 1 MB, 10 MB, then a burst of FEC_BURST_COUNT objects of 100 kB. */
  readonly fec: { readonly singles: string[]; readonly burst: string[] };
  /** The changeset columns' three objects (CHANGESET_SIZES). */
  readonly changeset: string[];
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
  const fecBurst: string[] = [];
  for (let i = 0; i < FEC_BURST_COUNT; i++) {
    const file = join(dir, `fec-burst-${String(i).padStart(3, "0")}`);
    writeFileSync(file, seeded(FEC_BURST_SIZE, 2000 + i));
    fecBurst.push(file);
  }
  const changeset = CHANGESET_SIZES.map((size, i) => {
    const file = join(dir, `changeset-${i}`);
    writeFileSync(file, seeded(size, 3000 + i));
    return file;
  });
  return { singles, burst, bytes, fec: { singles: singles.slice(3), burst: fecBurst }, changeset };
}
