// A garbage flood: random datagrams, and real ones (heard on the group) mutated — bytes flipped, cut
// short, lengthened, headers kept so that they pass the first checks — sent to the group as fast as
// --rate allows. Bounded: it stops by itself after --seconds.
//   node chaos/flood.ts --group G --port P --interface ADDR --rate 20000 --seconds 10 --seed 1
import dgram from "node:dgram";
import { parseArgs } from "node:util";
import { xorshift } from "./random.ts";

const { values } = parseArgs({
  options: {
    group: { type: "string" },
    port: { type: "string" },
    interface: { type: "string" },
    rate: { type: "string", default: "20000" },
    seconds: { type: "string", default: "10" },
    seed: { type: "string", default: "1" },
  },
});
const group = values.group!;
const port = Number(values.port);
const iface = values.interface!;
const rate = Number(values.rate);

const random = xorshift(Number(values.seed));
const int = (n: number): number => Math.floor(random() * n);

const MAGIC = [0xcc, 0xdb, 0x63, 0x63];
const real: Buffer[] = [];
const counts = { sent: 0, random: 0, mutated: 0, heard: 0 };

function garbage(): Buffer {
  if (real.length > 0 && random() < 0.6) {
    counts.mutated++;
    const base = real[int(real.length)]!;
    let d = Buffer.from(base);
    const how = int(4);
    if (how === 0) d = d.subarray(0, int(d.length));
    else if (how === 1) d = Buffer.concat([d, Buffer.alloc(1 + int(64), int(256))]);
    const flips = 1 + int(8);
    // Past the 8-byte preamble most of the time, so the damage reaches the protobuf body and chunks.
    for (let i = 0; i < flips && d.length > 0; i++) d[random() < 0.8 && d.length > 8 ? 8 + int(d.length - 8) : int(d.length)] = int(256);
    return d;
  }
  counts.random++;
  const d = Buffer.alloc(1 + int(1472));
  for (let i = 0; i < d.length; i++) d[i] = int(256);
  if (random() < 0.5 && d.length >= 8) {
    d.set(MAGIC, 0);
    d[4] = 1;
    d[5] = 1 + int(3);
    d[6] = 0;
  }
  return d;
}

const out = dgram.createSocket({ type: "udp4" });
const listen = dgram.createSocket({ type: "udp4", reuseAddr: true });
listen.on("message", (d) => {
  counts.heard++;
  if (real.length < 2000) real.push(d);
  else real[int(real.length)] = d;
});
let timer: NodeJS.Timeout | null = null;
const TICK_MS = 10;
out.bind(0, iface, () => {
  out.setMulticastInterface(iface);
  out.setMulticastTTL(1);
  listen.bind(port, group, () => {
    listen.addMembership(group, iface);
    console.log(JSON.stringify({ event: "listening" }));
    const perTick = Math.max(1, Math.round((rate * TICK_MS) / 1000));
    timer = setInterval(() => {
      for (let i = 0; i < perTick; i++) out.send(garbage(), port, group);
      counts.sent += perTick;
    }, TICK_MS);
  });
});
const stop = (): void => {
  if (timer !== null) clearInterval(timer);
  console.log(JSON.stringify({ event: "flood", ...counts }));
  listen.close();
  out.close();
};
setTimeout(stop, Number(values.seconds) * 1000).unref();
process.once("SIGTERM", stop);
