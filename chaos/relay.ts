// A replay fault injector (netem is not available here): joins the group the repository sends to,
// and sends every datagram on to the group the caches listen to, reordered within windows and some
// of them twice. Bounded: it stops by itself after --seconds.
//   node chaos/relay.ts --from G:P --to G:P --interface ADDR --duplicate 0.1 --window 16 --seconds 60 --seed 1
import dgram from "node:dgram";
import { parseArgs } from "node:util";
import { xorshift } from "./random.ts";

const { values } = parseArgs({
  options: {
    from: { type: "string" },
    to: { type: "string" },
    interface: { type: "string" },
    duplicate: { type: "string", default: "0.1" },
    window: { type: "string", default: "16" },
    seconds: { type: "string", default: "60" },
    seed: { type: "string", default: "1" },
  },
});
const [fromGroup, fromPort] = values.from!.split(":");
const [toGroup, toPort] = values.to!.split(":");
const iface = values.interface!;
const duplicate = Number(values.duplicate);
const window = Number(values.window);

const random = xorshift(Number(values.seed));

const counts = { received: 0, sent: 0, duplicated: 0, reorderedWindows: 0 };
const out = dgram.createSocket({ type: "udp4" });
const input = dgram.createSocket({ type: "udp4", reuseAddr: true, recvBufferSize: 8 * 1024 * 1024 });
let held: Buffer[] = [];
let timer: NodeJS.Timeout | null = null;

function flush(): void {
  if (timer !== null) clearTimeout(timer);
  timer = null;
  const batch = held;
  held = [];
  // Fisher-Yates: any order within the window.
  for (let i = batch.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [batch[i], batch[j]] = [batch[j]!, batch[i]!];
  }
  if (batch.length > 1) counts.reorderedWindows++;
  for (const d of batch) {
    out.send(d, Number(toPort), toGroup);
    counts.sent++;
    if (random() < duplicate) {
      out.send(d, Number(toPort), toGroup);
      counts.sent++;
      counts.duplicated++;
    }
  }
}

input.on("message", (d) => {
  counts.received++;
  held.push(d);
  if (held.length >= window) flush();
  // A window not filled within 2 ms goes out as it is (heartbeats must not wait for traffic).
  else timer ??= setTimeout(flush, 2);
});
out.bind(0, iface, () => {
  out.setMulticastInterface(iface);
  out.setMulticastTTL(1);
  input.bind(Number(fromPort), fromGroup, () => {
    input.addMembership(fromGroup!, iface);
    console.log(JSON.stringify({ event: "listening", from: values.from, to: values.to }));
  });
});
const stop = (): void => {
  flush();
  console.log(JSON.stringify({ event: "relay", ...counts }));
  input.close();
  out.close();
};
setTimeout(stop, Number(values.seconds) * 1000).unref();
process.once("SIGTERM", stop);
