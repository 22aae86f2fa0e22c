// Writes a replay file for c/replay.c: the datagrams of `objects` distinct objects of `size` bytes,
// each record [u32 BE length][u32 BE object-id offset][datagram].
import { writeFileSync } from "node:fs";
import { randomUUID } from "node:crypto";
import { ObjectEncoder } from "../ts/dist/wire/object-encoder.js";
import { DatagramDecoder } from "../ts/dist/wire/decode.js";
import { md5Hex } from "../ts/dist/wire/object.js";

export function writeReplayFile(file: string, objects: number, size: number, datagramSize: number): { datagrams: number; bytes: number } {
  const payload = Buffer.alloc(size);
  for (let i = 0; i < size; i++) payload[i] = (i * 2654435761) >>> 24;
  const md5 = md5Hex(payload);
  const decoder = new DatagramDecoder();
  const records: Buffer[] = [];
  let bytes = 0;
  for (let n = 0; n < objects; n++) {
    const encoder = new ObjectEncoder(
      {
        senderId: "00000000bec4a11e",
        sequence: n + 1,
        id: randomUUID(),
        meta: { path: "Bench/Receiver/Object", validFrom: 1, validUntil: 2 ** 40, created: Date.now(), contentType: "application/octet-stream", fileName: "bench", md5, metadata: {} },
        payload,
      },
      datagramSize,
    );
    for (const d of encoder.datagrams()) {
      const decoded = decoder.decode(d);
      if (decoded.kind !== "fragment") throw new Error("encoder produced an invalid datagram");
      const head = Buffer.alloc(8);
      head.writeUInt32BE(d.length, 0);
      head.writeUInt32BE(decoded.fragment.objectIdOffset, 4);
      records.push(head, Buffer.from(d));
      bytes += d.length;
    }
  }
  writeFileSync(file, Buffer.concat(records));
  return { datagrams: records.length / 2, bytes };
}
