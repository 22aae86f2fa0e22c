// An instance's sync side (`serve --instance FILE`): who owns which prefix, the peers' clients, the
// mirrors that pull the owners' change logs, and what GET /instances shows.
import type { FastifyBaseLogger } from "fastify";
import type { PeerAnswer, SyncOps } from "../context.js";
import type { RepositoryService } from "../repository/repository-service.js";
import { underPrefix, type InstanceConfig } from "./config.js";
import { Mirror, type MirrorStatus } from "./mirror.js";
import { PeerClient } from "./peer.js";

export interface InstancesView {
  readonly instance: string | null;
  readonly owns: readonly string[];
  readonly peers: readonly { name: string; url: string; owns: readonly string[]; token: boolean; ca: boolean }[];
  readonly mirrors: readonly MirrorStatus[];
}

export class SyncService implements SyncOps {
  private readonly peers = new Map<string, PeerClient>();
  readonly mirrors: Mirror[];

  constructor(
    readonly config: InstanceConfig,
    repository: RepositoryService,
    log: FastifyBaseLogger,
  ) {
    for (const p of config.peers) this.peers.set(p.name, new PeerClient(p));
    const checkpoints = repository.store.mirrorCheckpoints;
    if (config.mirrors.length > 0 && checkpoints === undefined) throw new Error("mirroring a prefix needs a store that keeps sync checkpoints (the embedded or the PostgreSQL one)");
    // Replicas sharing one database: only the one whose multicast sender leads pulls, so two never
    // apply the same change at once (the store's checkpoint check catches a lead lost mid-change).
    const pulls = (): boolean => repository.logSender === null || repository.logSender.isLeader;
    this.mirrors = config.mirrors.map((m) => new Mirror(m, this.peers.get(m.from)!, repository, repository.store, checkpoints!, config.pollMs, config.maxBackoffMs, log.child({ mirror: `${m.from}:${m.prefix}` }), pulls));
  }

  start(): void {
    for (const m of this.mirrors) m.start();
  }

  async close(): Promise<void> {
    await Promise.all(this.mirrors.map((m) => m.close()));
    await Promise.all([...this.peers.values()].map((p) => p.close()));
  }

  ownerOf(path: string): string | undefined {
    if (this.config.owns.some((o) => underPrefix(path, o))) return undefined;
    const mirror = this.config.mirrors.find((m) => underPrefix(path, m.prefix));
    if (mirror !== undefined) return this.peers.get(mirror.from)!.config.url;
    return this.config.peers.find((p) => p.owns.some((o) => underPrefix(path, o)))?.url;
  }

  askPeer(instance: string, pathAndQuery: string, headers: Record<string, string>): Promise<PeerAnswer> | undefined {
    const peer = this.peers.get(instance);
    if (peer === undefined) return undefined;
    return peer.get(pathAndQuery, headers).then((r) => ({ status: r.status, contentType: r.headers["content-type"] ?? "application/octet-stream", body: r.body }));
  }

  view(now: number): InstancesView {
    return {
      instance: this.config.name,
      owns: this.config.owns,
      peers: this.config.peers.map((p) => ({ name: p.name, url: p.url, owns: p.owns, token: p.tokenFile !== undefined, ca: p.caFile !== undefined })),
      mirrors: this.mirrors.map((m) => m.status(now)),
    };
  }
}
