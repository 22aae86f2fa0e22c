// Hosts for the interop matrix and the benchmarks: Linux network namespaces joined by veth pairs to a
// bridge that lives in a namespace of its own, with the names and addresses of deploy/topology.json
// (the benchmarking range 198.18.0.0/15, RFC 2544) — the same hosts docker-compose.yml runs. Nothing is
// created in the caller's namespace, and everything is removed by destroy(), also after a failure.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export interface HostSpec {
  readonly name: string;
  readonly role: "repository" | "cache" | "sender";
  readonly impl: string;
  readonly address: string;
}

export interface TopologySpec {
  readonly subnet: string;
  readonly group: string;
  readonly port: number;
  readonly hosts: readonly HostSpec[];
}

/** deploy/topology.json: the hosts shared with docker-compose.yml. */
export function loadTopologySpec(): TopologySpec {
  const file = join(dirname(fileURLToPath(import.meta.url)), "..", "deploy", "topology.json");
  return JSON.parse(readFileSync(file, "utf8")) as TopologySpec;
}

export interface Host {
  readonly name: string;
  /** The namespace name (for `ip netns exec`). */
  readonly netns: string;
  readonly address: string;
}

export interface TopologyOptions {
  /** Prefix of every namespace and link name, unique per run. */
  readonly prefix: string;
  readonly spec: TopologySpec;
  readonly mtu: number;
}

function ip(...args: string[]): void {
  execFileSync("ip", args, { stdio: ["ignore", "ignore", "pipe"] });
}

export function run(netns: string, command: string, args: string[]): string {
  return execFileSync("ip", ["netns", "exec", netns, command, ...args], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

export class Topology {
  readonly hosts: Host[] = [];
  readonly switchNetns: string;
  private readonly created: string[] = [];
  private readonly options: TopologyOptions;

  constructor(options: TopologyOptions) {
    this.options = options;
    this.switchNetns = `${options.prefix}-sw`;
  }

  create(): void {
    const { prefix, mtu } = this.options;
    this.addNetns(this.switchNetns);
    run(this.switchNetns, "ip", ["link", "add", "br0", "type", "bridge", "mcast_snooping", "0"]);
    run(this.switchNetns, "ip", ["link", "set", "br0", "mtu", String(mtu), "up"]);
    const prefixLength = this.options.spec.subnet.split("/")[1]!;
    this.options.spec.hosts.forEach(({ name, address }, i) => {
      const netns = `${prefix}-${name}`;
      this.addNetns(netns);
      // The veth pair is made inside the switch namespace, then one end moves to the host.
      const port = `p${i + 1}`;
      run(this.switchNetns, "ip", ["link", "add", port, "mtu", String(mtu), "type", "veth", "peer", "name", "eth0", "mtu", String(mtu)]);
      run(this.switchNetns, "ip", ["link", "set", "eth0", "netns", netns]);
      run(this.switchNetns, "ip", ["link", "set", port, "master", "br0", "up"]);
      run(netns, "ip", ["addr", "add", `${address}/${prefixLength}`, "dev", "eth0"]);
      run(netns, "ip", ["link", "set", "eth0", "up"]);
      run(netns, "ip", ["link", "set", "lo", "up"]);
      // Multicast leaves through eth0 (the hosts have no default route).
      run(netns, "ip", ["route", "add", "224.0.0.0/4", "dev", "eth0"]);
      this.hosts.push({ name, netns, address });
    });
  }

  host(name: string): Host {
    const host = this.hosts.find((h) => h.name === name);
    if (!host) throw new Error(`no host ${name}`);
    return host;
  }

  /** Sets the MTU of a host's interface and of its bridge port. */
  setMtu(host: Host, mtu: number): void {
    const i = this.hosts.indexOf(host);
    run(this.switchNetns, "ip", ["link", "set", `p${i + 1}`, "mtu", String(mtu)]);
    run(host.netns, "ip", ["link", "set", "eth0", "mtu", String(mtu)]);
  }

  /**
   * Makes a host's interface segment UDP GSO sends in software (gso_max_segs 1), as a NIC puts each
   * segment on the wire: otherwise a GSO batch crosses the veth bridge as one packet and a drop rule
   * loses all of its datagrams at once — bursts, not the independent loss a column means to inject.
   */
  segmentOnWire(host: Host, on: boolean): void {
    run(host.netns, "ip", ["link", "set", "eth0", "gso_max_segs", on ? "1" : "65535"]);
  }

  /** Drops `percent` % of the UDP datagrams to `port` arriving at `host`, at random (nftables numgen). */
  injectLoss(host: Host, port: number, percent: number): void {
    const rules = `table inet condcast_loss {
  chain input {
    type filter hook input priority 0; policy accept;
    udp dport ${port} numgen random mod 1000 < ${Math.round(percent * 10)} counter drop
  }
}
`;
    execFileSync("ip", ["netns", "exec", host.netns, "nft", "-f", "-"], { input: rules, stdio: ["pipe", "ignore", "pipe"] });
  }

  /** Removes the loss rule of `host`. */
  clearLoss(host: Host): void {
    try {
      run(host.netns, "nft", ["delete", "table", "inet", "condcast_loss"]);
    } catch {
      // no rule
    }
  }

  /** Datagrams the loss rule dropped at `host`. */
  droppedByLoss(host: Host): number {
    const out = run(host.netns, "nft", ["list", "table", "inet", "condcast_loss"]);
    const match = /counter packets (\d+)/.exec(out);
    return match ? Number(match[1]) : 0;
  }

  destroy(): void {
    for (const netns of this.created.reverse()) {
      try {
        ip("netns", "del", netns);
      } catch {
        // already gone
      }
    }
    this.created.length = 0;
  }

  private addNetns(name: string): void {
    ip("netns", "add", name);
    this.created.push(name);
  }
}

/** Removes namespaces left behind by an interrupted run with this prefix stem. */
export function removeStale(stem: string): void {
  const list = execFileSync("ip", ["netns", "list"], { encoding: "utf8" });
  for (const line of list.split("\n")) {
    const name = line.split(" ")[0];
    if (name && name.startsWith(stem)) {
      try {
        ip("netns", "del", name);
      } catch {
        // ignore
      }
    }
  }
}
