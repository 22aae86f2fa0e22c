// Shared test helpers: objects to send and ways to wait for what a receiver emits.
import { once } from "node:events";
import { setTimeout as sleep } from "node:timers/promises";
import { nativeRecv } from "../src/receiver/native-recv.js";
import { RECEIVE_PATHS as ALL_RECEIVE_PATHS, type ReceivePath, type Receiver } from "../src/receiver/receiver.js";
import { md5Hex, type ObjectMetadata, type ReceivedObject } from "../src/wire/object.js";

/** The receive paths a receiver test runs on: "native" only where the addon is built (`make ts`). */
export const RECEIVE_PATHS: readonly ReceivePath[] = ALL_RECEIVE_PATHS.filter((p) => p !== "native" || nativeRecv() !== null);

export function testMeta(payload: Uint8Array, overrides: Partial<ObjectMetadata> = {}): ObjectMetadata {
  return {
    path: "TPC/Calib/Gain",
    validFrom: 1_700_000_000_000,
    validUntil: 1_700_086_400_000,
    created: 1_700_000_000_123,
    contentType: "application/octet-stream",
    fileName: "gain.root",
    metadata: { runNumber: "523897", "Grüße": "µ ≥ 1" },
    ...overrides,
    md5: md5Hex(payload),
  };
}

/** Random bytes from a seeded generator (fast, reproducible, incompressible enough). */
export function bytes(length: number, seed = 1): Buffer {
  const out = Buffer.allocUnsafe(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** Resolves with the next `count` objects; rejects when an object is dropped or after `timeoutMs`. */
export async function collect(receiver: Receiver, count: number, timeoutMs: number): Promise<ReceivedObject[]> {
  const objects: ReceivedObject[] = [];
  const done = new Promise<void>((resolve, reject) => {
    receiver.once("dropped", (partial, reason) => {
      reject(new Error(`object ${partial.objectId} dropped: ${reason}, missing ${JSON.stringify(partial.missingEnvelopeRanges().slice(0, 5))}; counters ${JSON.stringify(receiver.counters.toJSON())}`));
    });
    const onObject = (o: ReceivedObject): void => {
      objects.push(o);
      if (objects.length >= count) {
        receiver.off("object", onObject);
        resolve();
      }
    };
    receiver.on("object", onObject);
  });
  const timeout = sleep(timeoutMs).then(() => {
    throw new Error(`timed out after ${timeoutMs} ms with ${objects.length}/${count} objects; counters ${JSON.stringify(receiver.counters.toJSON())}`);
  });
  await Promise.race([done, timeout]);
  return objects;
}

export { once, sleep };
