// Loads spec/vectors as every language's tests do (spec/vectors/README.md).
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { FecJson, FragmentJson, LifecycleJson, ObjectJson, ReceiverConfig, SenderJson } from "../src/vectors/cases.js";
import type { CommitInfo, HeartbeatInfo } from "../src/wire/control.js";

export const VECTORS_DIR = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "spec", "vectors");

export interface LoadedVector {
  name: string;
  description: string;
  kind: "object" | "heartbeat" | "lifecycle" | "commit" | "invalid" | "invalid-object";
  datagrams: Uint8Array[];
  receiver?: ReceiverConfig;
  sender?: SenderJson;
  object?: ObjectJson;
  fragments?: FragmentJson[];
  fec?: FecJson;
  heartbeat?: HeartbeatInfo;
  lifecycle?: LifecycleJson;
  commit?: CommitInfo;
  reason?: string;
}

export function loadVectors(): LoadedVector[] {
  const index = JSON.parse(readFileSync(join(VECTORS_DIR, "index.json"), "utf8")) as { vectors: string[] };
  return index.vectors.map((name) => {
    const json = JSON.parse(readFileSync(join(VECTORS_DIR, `${name}.json`), "utf8")) as Omit<LoadedVector, "datagrams"> & { datagrams: string[] };
    return { ...json, datagrams: json.datagrams.map((file) => new Uint8Array(readFileSync(join(VECTORS_DIR, file)))) };
  });
}

export function keyRing(config: ReceiverConfig | undefined): Map<number, Uint8Array> | undefined {
  if (!config?.keys) return undefined;
  return new Map(config.keys.map((k) => [k.id, Uint8Array.from(Buffer.from(k.keyHex, "hex"))]));
}
