// The local token issuers of `make cluster` (an AuthHook of cluster/instances.ts): each instance gets its
// own `condcast issuer` (an ES256 key pair, the JWKS served on its repository host's loopback), and its
// repository trusts only that issuer, for the whole namespace, with reads needing storage.read. The
// tokens each party needs are minted from that issuer's key when the cluster starts:
// - a mirror pulling instance i's prefix: storage.read:/Inst<i> (cross-instance authorisation);
// - instance i's caches: storage.read:/ for their upstream;
// - the producer writing instance i: storage.create + storage.modify on /Inst<i>.
// Every token file is in the cluster's directory, so `condcast token` mints more by hand (docs/INSTANCES.md).
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startIn, type Started } from "../interop/process.ts";
import { httpClient } from "../interop/cluster.ts";
import { CONDCAST, type AuthHook, type InstanceHosts } from "./instances.ts";

/** Each issuer listens on its repository host's own loopback: only that repository fetches its JWKS. */
const ISSUER_LISTEN = "127.0.0.1:8443";
const TOKEN_TTL_S = 24 * 3600;

export class LocalIssuers implements AuthHook {
  private readonly issuers: Started[] = [];
  private dir = "";
  private n = 0;

  /** The `iss` of instance i's tokens. */
  static issuerOf(i: number): string {
    return `https://issuer.inst${i}.condcast.local`;
  }

  /** Where the files of instance i's issuer are: keys/, the serve --auth file, the token files. */
  issuerDir(i: number): string {
    return join(this.dir, `issuer-${i}`);
  }

  async setup(dir: string, instances: readonly InstanceHosts[]): Promise<void> {
    this.dir = dir;
    this.n = instances.length;
    for (const inst of instances) {
      const d = this.issuerDir(inst.index);
      mkdirSync(d, { recursive: true });
      const issuer = LocalIssuers.issuerOf(inst.index);
      const started = startIn(inst.repository, [CONDCAST, "issuer"], ["--dir", join(d, "keys"), "--listen", ISSUER_LISTEN, "--issuer", issuer]);
      this.issuers.push(started);
      const auth = { issuers: [{ issuer, jwksUri: `http://${ISSUER_LISTEN}/jwks`, audience: inst.name, prefix: "/" }], reads: "token" };
      writeFileSync(join(d, "auth.json"), `${JSON.stringify(auth, null, 2)}\n`);
      const up = await httpClient(inst.repository, ["wait", `http://${ISSUER_LISTEN}`]);
      if (up.code !== 0) throw new Error(`${inst.name}'s issuer did not start: ${up.stderr} ${(await Promise.race([started.done, Promise.resolve(undefined)]))?.stderr ?? ""}`);
      this.mint(inst, "caches", "storage.read:/");
      this.mint(inst, "producer", `storage.create:/${inst.prefix} storage.modify:/${inst.prefix}`);
      for (const other of instances) if (other !== inst) this.mint(inst, `mirror-${other.index}`, `storage.read:/${inst.prefix}`);
    }
  }

  /** Writes the token file `name` of instance `inst`'s issuer (the key is read from its directory). */
  private mint(inst: InstanceHosts, name: string, scope: string): void {
    const d = this.issuerDir(inst.index);
    const token = execFileSync(CONDCAST, ["token", "--dir", join(d, "keys"), "--issuer", LocalIssuers.issuerOf(inst.index), "--aud", inst.name, "--scope", scope, "--ttl", String(TOKEN_TTL_S), "--sub", name], { encoding: "utf8" }).trim();
    writeFileSync(join(d, `${name}.token`), `${token}\n`, { mode: 0o600 });
  }

  repositoryFlags(i: number): string[] {
    return ["--auth", join(this.issuerDir(i), "auth.json")];
  }

  cacheFlags(i: number): string[] {
    return ["--upstream-token-file", join(this.issuerDir(i), "caches.token")];
  }

  /** Mirror `from` reads owner `to` with a token of the owner's issuer. */
  peerFiles(from: number, to: number): { tokenFile: string } {
    return { tokenFile: join(this.issuerDir(to), `mirror-${from}.token`) };
  }

  producerTokenFile(i: number): string {
    return join(this.issuerDir(i), "producer.token");
  }

  get instances(): number {
    return this.n;
  }

  async close(): Promise<void> {
    for (const s of this.issuers) s.kill("SIGTERM");
    await Promise.all(this.issuers.map((s) => Promise.race([s.done, new Promise((r) => setTimeout(r, 3000))])));
    for (const s of this.issuers) s.kill("SIGKILL");
    this.issuers.length = 0;
  }
}
