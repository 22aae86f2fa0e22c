// The cache role: joins the multicast group, keeps completed objects in memory, and fills in what
// multicast missed from its upstream repositories:
// - a miss is fetched (concurrent misses for the same request share one fetch);
// - an object whose fragments stopped arriving is repaired with HTTP Range requests for exactly the
//   missing bytes (and HEAD for missing metadata) after a quiet time plus random jitter (a short
//   quiet time once the receiver knows the sender has sent it all, a jitter sized to the farm);
// - a sequence gap, and a start, read the repository's change log (GET /changes);
// - an object the receiver dropped (expired, MD5 mismatch) or that repair could not complete is
//   fetched whole, retried with backoff until it succeeds;
// - a group that falls silent (no heartbeat for a few intervals, group-watch.ts) is reported, left and
//   joined again, and the change log is read on a short period until heartbeats return;
// - a warm start loads what /latest/ lists as valid now under the configured prefixes;
// - with the upstream down, what is held is still served; background work retries with backoff.
import type { FastifyBaseLogger } from "fastify";
import { Receiver, type ListeningInfo, type ReceiverOptions } from "../../receiver/receiver.js";
import type { PartialObject } from "../../receiver/partial-object.js";
import { finishObject } from "../../receiver/reassembler.js";
import type { LifecycleInfo } from "../../wire/control.js";
import { encodeObjectMeta, md5Hex, type ReceivedObject } from "../../wire/object.js";
import type { CacheOps, HeldObject } from "../context.js";
import type { Change } from "../store/storage.js";
import { recordFromHeaders } from "../http/headers.js";
import { MemoryStore } from "../store/memory-store.js";
import { LatencyWindow, type ServerCounters } from "../ops/metrics.js";
import { DEFAULT_SILENCE, GroupWatch, type SilenceOptions, type Transition } from "./group-watch.js";
import { KeyState } from "../keys/key-state.js";
import { Staging } from "../keys/staging.js";
import { nextEntries, type ChangesetState, type KeyEntry, type KeySnapshot } from "../keys/model.js";
import type { CommitInfo, HeartbeatInfo } from "../../wire/control.js";
import type { ObjectQuery, ObjectRecord, ObjectSource } from "../model.js";
import { parseRangeResponse } from "../http/ranges.js";
import { ConsumerRegistry, patternPrefix } from "../consumers/registry.js";
import { header, Upstream, UpstreamUnavailable, type UpstreamResponse, type UpstreamSecurity } from "./upstream.js";

export interface CacheOptions {
  readonly upstream: readonly string[];
  readonly budgetBytes: number;
  readonly graceMs: number;
  readonly warm: readonly string[];
  /** Receiver settings; undefined = no multicast (datagrams may still be fed to `receiver`). */
  readonly multicast: ReceiverOptions | undefined;
  /** Quiet time after an incomplete object's last fragment before it is repaired. */
  readonly repairQuietMs: number;
  /**
   * The quiet time once the receiver knows the sender has sent all of the object (PartialObject
   * endedAt): its missing fragments are lost, not late; default 5 ms for reordering on the path.
   */
  readonly repairEndedQuietMs?: number | undefined;
  /**
   * Up to this much random delay on top, so many caches do not ask at the same instant; less in a
   * small farm (the size the repository's report answers give, REPAIR_SPREAD_PER_CACHE_MS each).
   */
  readonly repairJitterMs: number;
  /** First retry delay of background work when the upstream is down (doubles up to 30 s). */
  readonly retryBaseMs: number;
  readonly upstreamTimeoutMs: number;
  /** The CA trusted for https upstreams and the token sent to them (auth/, docs/INSTANCES.md). */
  readonly upstreamSecurity?: UpstreamSecurity | undefined;
  /** When the multicast group counts as silent, and what the cache does then (default DEFAULT_SILENCE). */
  readonly silence?: Partial<SilenceOptions> | undefined;
  /** Keys kept per keytable for reads pinned to them, their objects safe from eviction (default 16). */
  readonly keepKeys?: number | undefined;
  /** How long a staged object waits for its changeset's commit (default 15 min, SPEC 11). */
  readonly stagedTimeoutMs?: number | undefined;
  /** How often declared objects not held are asked for again (default 5 s; consumers/). */
  readonly consumerRefreshMs?: number | undefined;
}

/** An object a declared pattern's listing named. */
interface ListedObject {
  readonly id: string;
  readonly validUntil: number;
}

/** A commit heard (or read from the change log) that waits for its objects before the flip. */
type PendingCommit = Omit<CommitInfo, "senderId" | "sequence" | "committedAt" | "aborted">;

interface SenderState {
  lastSequence: number;
  lastHeartbeat?: number;
  name?: string;
}

const MAX_REPAIR_ATTEMPTS = 5;
/** Reordering on a farm's path is well under this: the quiet time once an object is known to have ended. */
export const DEFAULT_REPAIR_ENDED_QUIET_MS = 5;
/**
 * The repair jitter per reporting cache: a repository answers a Range repair in well under 0.1 ms of
 * CPU (bench 6: about 20 µs per 1 KB hit), so a farm whose every cache lost the same fragment is spread
 * over about what the repository serves at once; capped by repairJitterMs (150 ms at 1500 caches).
 */
export const REPAIR_SPREAD_PER_CACHE_MS = 0.1;
/** Background tasks waiting for the upstream beyond which objects to refetch are folded into one resync. */
const MAX_PENDING_TASKS = 10_000;
/** A declared pattern is listed upstream again after this long (new objects arrive by multicast meanwhile). */
const PATTERN_RELIST_MS = 60_000;
/** Objects a declared pattern's listing names at most. */
const PATTERN_LIST_LIMIT = 4096;
/** Declared objects fetched at the same time. */
const DECLARED_FETCH_CONCURRENCY = 8;

export class CacheService implements CacheOps {
  readonly store: MemoryStore;
  readonly receiver: Receiver;
  readonly upstream: Upstream;
  readonly senders = new Map<string, SenderState>();
  /** The keys this cache has flipped to, and the objects of changesets not committed yet. */
  readonly keys: KeyState;
  readonly staging: Staging;
  /** What local processes declared they read (consumers/): held before it is read, evicted last. */
  readonly consumers = new ConsumerRegistry();
  /** Per declared pattern, the ids its last upstream listing named (valid then) and when. */
  private readonly patternListings = new Map<string, { objects: ListedObject[]; listedAt: number }>();
  private readonly pendingCommits = new Map<string, PendingCommit>();
  private readonly inflight = new Map<string, Promise<HeldObject | "not-found">>();
  /** Key syncs a read is waiting for, by keytable. */
  private readonly keySyncs = new Map<string, Promise<void>>();
  /** Each incomplete object's repair jitter, drawn once; it goes with the partial. */
  private readonly jitter = new WeakMap<PartialObject, number>();
  /** Caches reporting to the upstream (FARM_SIZE_HEADER), undefined until a report was answered. */
  private farmSize: number | undefined;
  private readonly repairing = new Set<string>();
  /** Object ids of the repairs under way (`repairing` holds reassembly keys). */
  private readonly repairingIds = new Set<string>();
  private timers: NodeJS.Timeout[] = [];
  private closed = false;
  /** Background work waiting for the upstream, run with backoff. */
  private readonly pending = new Map<string, () => Promise<void>>();
  private retryDelay: number;
  private retryTimer: NodeJS.Timeout | null = null;
  /** Repository change log position per sender id (what has been applied). */
  private readonly applied = new Map<string, number>();
  warmDone = false;
  /** The group joined and the receive buffer granted (what a farm operator checks, DEPLOYMENT.md). */
  private listening: ListeningInfo | null = null;
  /** Time from an incomplete object's last fragment to its completion by repair. */
  private readonly repairLatency = new LatencyWindow(10_000);
  /** Whether heartbeats still arrive. */
  readonly groupWatch: GroupWatch;
  private readonly silence: SilenceOptions;
  private silenceTimer: NodeJS.Timeout | null = null;
  private lastRejoinAt = 0;
  private lastPollAt = 0;
  /** The upstream repository's sender id (from its change log), once known. */
  private upstreamSender: string | undefined;
  /** When (local clock) the last heartbeat was heard, for readiness reports. */
  lastHeartbeatAt: number | undefined;
  /** Why background work last failed, while it is failing (for /health). */
  private upstreamProblem: string | undefined;

  constructor(
    private readonly options: CacheOptions,
    private readonly counters: ServerCounters,
    private readonly log: FastifyBaseLogger,
  ) {
    this.keys = new KeyState(options.keepKeys ?? 16);
    this.staging = new Staging(Math.floor(options.budgetBytes / 4), options.stagedTimeoutMs ?? 15 * 60_000);
    this.store = new MemoryStore({ budgetBytes: options.budgetBytes, graceMs: options.graceMs, pinned: (id) => this.keys.pinned(id), declared: (path) => this.consumers.isDeclared(path) });
    this.upstream = new Upstream(options.upstream, options.upstreamTimeoutMs, options.upstreamSecurity);
    // The cache stages changesets itself (keys/staging.ts) and fetches what multicast missed, so it takes
    // their objects as they complete.
    this.receiver = new Receiver({ ...options.multicast, stageChangesets: false });
    this.retryDelay = options.retryBaseMs;
    this.silence = { ...DEFAULT_SILENCE, ...options.silence };
    this.groupWatch = new GroupWatch(this.silence, Date.now());
    this.receiver.on("object", (object) => this.onObject(object));
    this.receiver.on("heartbeat", (hb) => {
      const state = this.sender(hb.senderId);
      this.lastHeartbeatAt = Date.now();
      state.lastHeartbeat = hb.sentAt;
      state.name = hb.senderName;
      state.lastSequence = Math.max(state.lastSequence, hb.lastSequence);
      this.onTransition(this.groupWatch.heartbeat(hb.senderId, hb.intervalMs, hb.senderName, Date.now()));
      this.onHeartbeatKeys(hb);
    });
    this.receiver.on("commit", (commit) => {
      const state = this.sender(commit.senderId);
      state.lastSequence = Math.max(state.lastSequence, commit.sequence);
      this.onCommit(commit);
    });
    this.receiver.on("lifecycle", (info) => void this.onLifecycle(info));
    this.receiver.on("gap", (gap) => {
      this.counters.gaps++;
      this.log.warn({ gap }, "sequence gap: reading the upstream change log");
      this.schedule(`changes:${gap.senderId}`, () => this.syncChanges(gap.senderId, gap.from - 1));
    });
    this.receiver.on("dropped", (partial, reason) => {
      this.log.warn({ id: partial.objectId, reason }, "object dropped by the receiver: fetching it whole");
      this.refetch(partial.objectId, partial.senderId, partial.sequence, `dropped: ${reason}`);
    });
    this.receiver.on("error", (error) => this.log.error({ err: error }, "receiver error"));
  }

  async start(): Promise<void> {
    if (this.options.multicast !== undefined) {
      const info = await this.receiver.start();
      this.listening = info;
      this.log.info(info, "joined the multicast group");
    }
    const tick = Math.max(2, Math.min(50, Math.floor(Math.min(this.options.repairQuietMs, this.repairEndedQuietMs) / 2)));
    this.timers.push(setInterval(() => this.repairStalled(Date.now()), tick));
    this.timers.push(setInterval(() => this.sweep(), Math.max(100, Math.min(1000, this.options.graceMs))));
    this.timers.push(setInterval(() => this.refreshDeclared(Date.now()), this.options.consumerRefreshMs ?? 5000));
    if (this.options.multicast !== undefined) {
      this.silenceTimer = setInterval(() => this.watchGroup(Date.now()), Math.max(20, Math.min(250, Math.floor(this.silence.minMs / 4))));
      this.timers.push(this.silenceTimer);
    }
    for (const t of this.timers) t.unref();
    if (this.upstream.configured) {
      // Learn where the repository's sequence stands first, so anything multicast after it and missed
      // shows as a gap; then load what is valid now.
      this.schedule("start", () => this.syncStart());
    }
    await this.runPending();
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.timers) clearInterval(t);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    await this.receiver.close();
    await this.upstream.close();
    await this.store.close();
  }

  writeTarget(): string | undefined {
    return this.options.upstream[0];
  }

  // ---- misses -------------------------------------------------------------------------------------

  miss(pathAndQuery: string, query: ObjectQuery, headers: Record<string, string>): Promise<HeldObject | "not-found"> {
    const key = `${pathAndQuery}\n${query.notAfter ?? ""}\n${query.notBefore ?? ""}`;
    return this.shared(key, () => this.fetchObject(pathAndQuery, headers, "upstream", query.path));
  }

  missById(id: string): Promise<HeldObject | "not-found"> {
    return this.shared(`download:${id}`, () => this.fetchObject(`/download/${id}`, {}, "upstream", undefined));
  }

  private shared(key: string, fetch: () => Promise<HeldObject | "not-found">): Promise<HeldObject | "not-found"> {
    let p = this.inflight.get(key);
    if (p === undefined) {
      p = fetch().finally(() => this.inflight.delete(key));
      this.inflight.set(key, p);
    }
    return p;
  }

  /** GETs an object (following redirects), checks its MD5 and stores it. */
  private async fetchObject(pathAndQuery: string, headers: Record<string, string>, source: ObjectSource, path: string | undefined): Promise<HeldObject | "not-found"> {
    const got = await this.download(pathAndQuery, headers, source, path);
    if (got === "not-found") return got;
    const { record, body } = got;
    // An object answered upstream under a key this cache has not flipped to may be part of that key's
    // changeset (a read's miss, or an object refetched after multicast dropped it): flip first (every
    // object of the key held), so that no reader sees part of a changeset and an answer agrees with
    // the key it is answered under. A flip that fails is a 503 (a read) or a retry (background).
    await this.catchUpKeys(got.keys);
    const existing = this.store.get(record.id);
    if (existing !== undefined) return { record: existing };
    await this.keep(record, body);
    this.log.info({ id: record.id, path: record.meta.path, source }, "object fetched from upstream");
    return { record, payload: body };
  }

  /** Flips to every key the upstream named that is newer than this cache's (one sync per keytable at a time). */
  private async catchUpKeys(named: string | undefined): Promise<void> {
    for (const m of (named ?? "").matchAll(/([A-Za-z0-9._-]{1,64})\/(\d+)/g)) {
      const keytable = m[1]!;
      if (Number(m[2]) <= this.keys.currentKey(keytable)) continue;
      let sync = this.keySyncs.get(keytable);
      if (sync === undefined) {
        sync = this.syncKey(keytable).finally(() => this.keySyncs.delete(keytable));
        this.keySyncs.set(keytable, sync);
      }
      await sync;
    }
  }

  /** GETs an object (following redirects) and checks its MD5; stores nothing. */
  private async download(pathAndQuery: string, headers: Record<string, string>, source: ObjectSource, path: string | undefined): Promise<{ record: ObjectRecord; body: Buffer; keys: string | undefined } | "not-found"> {
    let response: UpstreamResponse;
    try {
      response = await this.upstream.fetch(pathAndQuery, { headers });
    } catch (error) {
      this.counters.upstreamErrors++;
      throw error;
    }
    if (response.status === 404) return "not-found";
    if (response.status !== 200) throw new UpstreamUnavailable(`upstream answered ${response.status} for ${pathAndQuery}`);
    const record = recordFromHeaders(response.headers, response.body.length, source, path);
    if (record === undefined) throw new UpstreamUnavailable(`upstream answer for ${pathAndQuery} lacks the object headers`);
    if (md5Hex(response.body) !== record.meta.md5) throw new UpstreamUnavailable(`upstream answer for ${pathAndQuery} fails its Content-MD5`);
    this.counters.fetched++;
    return { record, body: response.body, keys: header(response, "condcast-key") };
  }

  private async keep(record: ObjectRecord, payload: Uint8Array): Promise<boolean> {
    const result = await this.store.put(record, payload);
    if (!result.stored) {
      this.counters.tooLarge++;
      this.log.warn({ id: record.id, size: payload.length }, result.reason);
    }
    return result.stored;
  }

  // ---- multicast ----------------------------------------------------------------------------------

  private onObject(object: ReceivedObject): void {
    this.counters.multicastCompleted++;
    const state = this.sender(object.senderId);
    state.lastSequence = Math.max(state.lastSequence, object.sequence);
    if (this.store.has(object.id)) return;
    if (object.meta.changeset !== undefined) {
      this.stage({ id: object.id, meta: object.meta, size: object.payload.length, initialValidity: object.meta.validUntil, lastModified: object.meta.created, source: "multicast" }, object.payload, object.meta.changeset);
      return;
    }
    const record: ObjectRecord = {
      id: object.id,
      meta: object.meta,
      size: object.payload.length,
      initialValidity: object.meta.validUntil,
      lastModified: object.meta.created,
      source: "multicast",
    };
    void this.keep(record, object.payload);
  }

  private async onLifecycle(info: LifecycleInfo): Promise<void> {
    const state = this.sender(info.senderId);
    state.lastSequence = Math.max(state.lastSequence, info.sequence);
    await this.applyChange(info.objectId, info.action, info.validUntil, info.metadata);
  }

  private async applyChange(id: string, action: "updated" | "deleted", validUntil: number, metadata: Readonly<Record<string, string>>): Promise<void> {
    const record = this.store.get(id);
    if (record === undefined) return;
    this.counters.lifecyclesApplied++;
    if (action === "deleted") {
      await this.store.remove(id);
      return;
    }
    if (metadata["condcast-metadata-omitted"] === "true") {
      this.schedule(`head:${id}`, () => this.refreshMetadata(id));
      return;
    }
    const replace: Record<string, string> = { ...metadata };
    for (const key of Object.keys(record.meta.metadata)) if (!(key in metadata)) replace[key] = "";
    await this.store.update(id, { validUntil, metadata: replace }, Date.now());
  }

  private async refreshMetadata(id: string): Promise<void> {
    const response = await this.upstream.fetch(`/download/${id}`, { method: "HEAD" });
    if (response.status === 404) {
      await this.store.remove(id);
      return;
    }
    const held = this.store.get(id);
    const fresh = recordFromHeaders(response.headers, held?.size ?? 0, held?.source ?? "changes", held?.meta.path);
    if (held === undefined || fresh === undefined) return;
    const replace: Record<string, string> = { ...fresh.meta.metadata };
    for (const key of Object.keys(held.meta.metadata)) if (!(key in replace)) replace[key] = "";
    await this.store.update(id, { validUntil: fresh.meta.validUntil, metadata: replace }, Date.now());
  }

  private sender(id: string): SenderState {
    let state = this.senders.get(id);
    if (state === undefined) this.senders.set(id, (state = { lastSequence: 0 }));
    return state;
  }

  // ---- repair -------------------------------------------------------------------------------------

  /** The farm's size as the upstream's report answers give it (SPEC 8: the jitter spreads its repairs). */
  setFarmSize(caches: number): void {
    this.farmSize = caches;
  }

  private get repairEndedQuietMs(): number {
    return this.options.repairEndedQuietMs ?? DEFAULT_REPAIR_ENDED_QUIET_MS;
  }

  /** The jitter's range: repairJitterMs, or less when the farm is known to be small. */
  repairJitterRangeMs(): number {
    const cap = this.options.repairJitterMs;
    return this.farmSize === undefined ? cap : Math.min(cap, this.farmSize * REPAIR_SPREAD_PER_CACHE_MS);
  }

  /**
   * Repairs every incomplete object whose quiet time (plus its jitter) has passed: counted from its
   * last fragment, and short once the sender is known to have sent all of it.
   */
  repairStalled(now: number): void {
    if (!this.upstream.configured || this.closed) return;
    for (const partial of this.receiver.incomplete()) {
      let jitter = this.jitter.get(partial);
      if (jitter === undefined) this.jitter.set(partial, (jitter = Math.random() * this.repairJitterRangeMs()));
      const quiet = partial.endedAt === null ? this.options.repairQuietMs : Math.min(this.options.repairQuietMs, this.repairEndedQuietMs);
      if (now - partial.lastFragmentAt < quiet + jitter) continue;
      const released = this.receiver.release(partial.key);
      // Held already (fetched whole from the change log or by a read while its fragments trickled in).
      if (released === undefined || this.store.has(released.objectId)) continue;
      void this.repair(released, 1);
    }
  }

  private async repair(partial: PartialObject, attempt: number): Promise<void> {
    if (this.repairing.has(partial.key) && attempt === 1) return;
    this.repairing.add(partial.key);
    this.repairingIds.add(partial.objectId);
    try {
      const object = await this.completeOverHttp(partial);
      this.repairing.delete(partial.key);
      this.repairingIds.delete(partial.objectId);
      if (object === undefined) return;
      this.counters.repaired++;
      this.repairLatency.record(Date.now() - partial.lastFragmentAt);
      const state = this.sender(partial.senderId);
      state.lastSequence = Math.max(state.lastSequence, partial.sequence);
      if (this.store.has(object.record.id)) {
        // held already
      } else if (object.record.meta.changeset !== undefined) this.stage(object.record, object.payload, object.record.meta.changeset);
      else {
        // Rebuilt from the HEAD's headers when its first fragment was lost, an object of a changeset
        // does not know it: as for an object fetched whole, flip first to the key the upstream
        // answered under (chaos keys-atomic-under-loss caught one shown under the key before).
        await this.catchUpKeys(object.keys);
        if (!this.store.has(object.record.id)) await this.keep(object.record, object.payload);
      }
      this.log.info({ id: object.record.id, path: object.record.meta.path, attempt }, "object repaired over HTTP");
    } catch (error) {
      this.counters.upstreamErrors++;
      if (attempt >= MAX_REPAIR_ATTEMPTS || this.closed) {
        this.repairing.delete(partial.key);
        this.repairingIds.delete(partial.objectId);
        this.counters.repairFailures++;
        this.log.error({ id: partial.objectId, err: error }, "repair failed: fetching the object whole");
        this.refetch(partial.objectId, partial.senderId, partial.sequence, "repair failed");
        return;
      }
      const delay = this.options.retryBaseMs * 2 ** (attempt - 1);
      setTimeout(() => void this.repair(partial, attempt + 1), delay).unref();
    }
  }

  /** Fetches exactly the missing payload bytes (and the metadata by HEAD when it is missing). */
  private async completeOverHttp(partial: PartialObject): Promise<{ record: ObjectRecord; payload: Uint8Array; keys: string | undefined } | undefined> {
    const id = partial.objectId;
    let headRecord: ObjectRecord | undefined;
    // The keys the upstream answered under (see repair(): an object rebuilt from the HEAD's headers
    // does not know its changeset).
    let keys: string | undefined;
    if (partial.metadataMissing()) {
      const head = await this.upstream.fetch(`/download/${id}`, { method: "HEAD" });
      if (head.status === 404) {
        this.log.warn({ id }, "repair: upstream does not know the object");
        return undefined;
      }
      if (head.status !== 200) throw new Error(`HEAD /download/${id} answered ${head.status}`);
      keys = header(head, "condcast-key");
      headRecord = recordFromHeaders(head.headers, partial.envelopeLength - partial.metadataLength, "repair");
      if (headRecord === undefined) throw new Error(`HEAD /download/${id} lacks the object headers`);
    }
    this.counters.fecBlocksRepaired += partial.blocksShort();
    // With FEC a block's rebuild needs whole source fragments: the metadata bytes too, re-encoded
    // from the headers (deterministic encoding gives the sender's bytes).
    const head = headRecord === undefined ? undefined : encodeObjectMeta(headRecord.meta);
    const metadataBytes = head !== undefined && head.length === partial.metadataLength ? head : undefined;
    if (metadataBytes !== undefined) partial.fillEnvelope(0, metadataBytes);
    const ranges = partial.missingPayloadRanges();
    if (ranges.length > 0) {
      const spec = ranges.map((r) => `${r.start}-${r.end - 1}`).join(",");
      const response = await this.upstream.fetch(`/download/${id}`, { headers: { Range: `bytes=${spec}` } });
      if (response.status === 404) return undefined;
      if (response.status !== 206) throw new Error(`range request for ${id} answered ${response.status}`);
      keys = header(response, "condcast-key") ?? keys;
      const pieces = parseRangeResponse(header(response, "content-type") ?? "", header(response, "content-range"), response.body);
      for (const piece of pieces) {
        // A piece at payload 0 completes fragments that start in the metadata.
        if (piece.first === 0 && metadataBytes !== undefined) partial.fillEnvelope(0, Buffer.concat([metadataBytes, piece.bytes]));
        else partial.fillEnvelope(partial.metadataLength + piece.first, piece.bytes);
        this.counters.repairBytes += piece.bytes.length;
      }
    }
    if (headRecord === undefined) {
      const result = finishObject(partial);
      if ("reason" in result) throw new Error(`repaired object ${id} failed: ${result.reason}`);
      const o = result.object;
      return {
        record: { id, meta: o.meta, size: o.payload.length, initialValidity: o.meta.validUntil, lastModified: o.meta.created, source: "repair" },
        payload: o.payload,
        keys,
      };
    }
    const payload = partial.envelope.subarray(partial.metadataLength);
    if (md5Hex(payload) !== headRecord.meta.md5) throw new Error(`repaired object ${id} fails its MD5`);
    return { record: headRecord, payload, keys };
  }

  // ---- change log, warm start, background retries ------------------------------------------------

  private async syncStart(): Promise<void> {
    const response = await this.upstream.fetch("/changes?since=0&limit=0");
    if (response.status === 200) {
      const log = JSON.parse(response.body.toString()) as { senderId: string; lastSequence: number };
      this.applied.set(log.senderId, Math.max(this.applied.get(log.senderId) ?? 0, log.lastSequence));
      this.upstreamSender = log.senderId;
      this.groupWatch.pin(log.senderId);
      // Seed the tracker, also at 0: a later object or heartbeat beyond this number reveals what was
      // missed — the first heartbeat heard after every earlier object was lost included.
      this.receiver.sequences.observe(log.senderId, log.lastSequence);
      const state = this.sender(log.senderId);
      state.lastSequence = Math.max(state.lastSequence, log.lastSequence);
    }
    await this.warmStart();
    // The keys in force upstream, each with every object it names (SPEC 11).
    const keys = await this.upstream.fetch("/keys");
    if (keys.status === 200) {
      for (const k of (JSON.parse(keys.body.toString()) as { keytables: { keytable: string }[] }).keytables) this.schedule(`keysync:${k.keytable}`, () => this.syncKey(k.keytable));
    }
  }

  /** Loads the objects valid now under the --warm prefixes (newest per path, as /latest/ lists them). */
  private async warmStart(): Promise<void> {
    const now = Date.now();
    for (const prefix of this.options.warm) {
      const clean = prefix.replace(/^\/+|\/+$/g, "");
      const response = await this.upstream.fetch(`/latest/${clean === "" ? "" : `${encodeURI(clean)}`}.*/${now}?Accept=application/json`);
      if (response.status !== 200) throw new UpstreamUnavailable(`warm start: /latest/ answered ${response.status}`);
      const listing = JSON.parse(response.body.toString()) as { objects: { id: string; path: string; validFrom: number; validUntil: number }[] };
      for (const entry of listing.objects) {
        if (clean !== "" && entry.path !== clean && !entry.path.startsWith(`${clean}/`)) continue;
        if (!(entry.validFrom <= now && now < entry.validUntil) || this.store.has(entry.id)) continue;
        await this.fetchObject(`/download/${entry.id}`, {}, "warm", entry.path);
      }
      this.log.info({ prefix: clean, listed: listing.objects.length }, "warm start done");
    }
    this.warmDone = true;
  }

  /** Applies the upstream's changes after `since` (uploads fetched, updates and deletions applied). */
  private async syncChanges(senderId: string, since: number): Promise<void> {
    let from = Math.min(since, this.applied.get(senderId) ?? since);
    for (;;) {
      const response = await this.upstream.fetch(`/changes?since=${from}&limit=1000`);
      if (response.status !== 200) throw new UpstreamUnavailable(`/changes answered ${response.status}`);
      const log = JSON.parse(response.body.toString()) as { senderId: string; lastSequence: number; changes: Change[] };
      if (log.senderId !== senderId) {
        this.log.warn({ senderId, upstream: log.senderId }, "gap from a sender that is not the upstream repository: ignored");
        return;
      }
      const now = Date.now();
      for (const change of log.changes) {
        if (change.action === "committed") {
          if (change.keytable !== undefined && (change.key ?? 0) > this.keys.currentKey(change.keytable) && !this.pendingCommits.has(change.id)) {
            const keytable = change.keytable;
            this.schedule(`keysync:${keytable}`, () => this.syncKey(keytable));
          }
        } else if (change.action === "uploaded" && change.changeset !== undefined) {
          // Part of a changeset: it becomes visible here with its key, not on its own.
        } else if (change.action === "uploaded" || change.action === "resent") {
          // "resent": a run start multicast a visible object again; a cache that lacks it takes it.
          if (!this.store.has(change.id) && change.validUntil > now && !this.receiving(change.id)) {
            await this.shared(`download:${change.id}`, () => this.fetchObject(`/download/${change.id}`, {}, "changes", change.path)).catch((error: Error) => {
              if (error instanceof UpstreamUnavailable) throw error;
            });
          }
        } else await this.applyChange(change.id, change.action, change.validUntil, change.metadata);
        from = change.sequence;
      }
      this.applied.set(senderId, Math.max(this.applied.get(senderId) ?? 0, from));
      if (log.changes.length === 0 || from >= log.lastSequence) return;
    }
  }

  /**
   * Whether multicast is still delivering this object: an incomplete reassembly that heard a fragment
   * recently, or a repair under way. The change log leaves it to them (no second fetch); if they give
   * up, refetch() takes it.
   */
  private receiving(id: string): boolean {
    if (this.repairingIds.has(id)) return true;
    const now = Date.now();
    return this.receiver.incomplete().some((p) => p.objectId === id && now - p.lastFragmentAt < this.options.repairQuietMs + this.options.repairJitterMs + 1000);
  }

  /** Fetches an object whole that multicast announced but did not deliver; retried until it is held. */
  private refetch(id: string, senderId: string, sequence: number, why: string): void {
    if (!this.upstream.configured || this.store.has(id)) return;
    this.counters.refetches++;
    if (this.pending.size >= MAX_PENDING_TASKS && this.upstreamSender !== undefined) {
      // Bounded: past this many waiting tasks (a long upstream outage while objects keep being
      // dropped), one read of the whole change log stands in for every further object.
      const sender = this.upstreamSender;
      this.schedule(`resync:${sender}`, () => this.syncChanges(sender, 0));
      return;
    }
    this.schedule(`object:${id}`, async () => {
      if (this.store.has(id)) return;
      const held = await this.shared(`download:${id}`, () => this.fetchObject(`/download/${id}`, {}, "changes", undefined));
      if (held === "not-found") this.log.info({ id, why }, "object to refetch is gone upstream (deleted)");
      const state = this.sender(senderId);
      state.lastSequence = Math.max(state.lastSequence, sequence);
    });
  }

  // ---- changesets and keys (SPEC 11) ---------------------------------------------------------------

  /** An object of a changeset, completed by multicast or by repair: out of sight until its commit. */
  private stage(record: ObjectRecord, payload: Uint8Array, changeset: string): void {
    if (!this.staging.stage(record, payload, changeset, Date.now())) this.log.warn({ id: record.id, changeset }, "staging is full: the object will be fetched at its commit");
    this.tryFlip(changeset);
  }

  private onCommit(commit: CommitInfo): void {
    if (commit.aborted) {
      const n = this.staging.dropChangeset(commit.changeset);
      this.pendingCommits.delete(commit.changeset);
      this.counters.changesetsAborted++;
      this.log.info({ changeset: commit.changeset, dropped: n }, "changeset aborted");
      return;
    }
    const { keytable, key, parentKey, changeset, objectCount, objectIds, removedPaths } = commit;
    // A Commit of a key held already (a copy the receiver's memory had forgotten, SPEC 5.4, or the
    // re-send of the current key, SPEC 11.6) with nothing of it staged: nothing to flip or to fetch.
    if (key <= this.keys.currentKey(keytable) && this.staging.idsOf(changeset).length === 0) return;
    this.pendingCommits.set(changeset, { keytable, key, parentKey, changeset, objectCount, objectIds, removedPaths });
    if (this.tryFlip(changeset)) return;
    // What multicast did not bring (in flight still, lost, or too large to stage) comes from the
    // repository, where the commit made it visible; after the quiet time repairs wait too.
    // After the repairs (the short quiet time of an ended object), so this fetches whole only what
    // they did not bring.
    const wait = this.options.repairQuietMs + Math.random() * this.repairJitterRangeMs();
    setTimeout(() => {
      if (this.pendingCommits.has(changeset)) this.schedule(`commit:${changeset}`, () => this.completeCommit(changeset));
    }, wait).unref();
  }

  /** Flips to a pending commit's key if every object of it is held; true when it flipped. */
  private tryFlip(changeset: string): boolean {
    const c = this.pendingCommits.get(changeset);
    if (c === undefined) return false;
    const ids = c.objectIds.length > 0 ? c.objectIds : this.staging.idsOf(changeset);
    if (ids.length < c.objectCount || !ids.every((id) => this.staging.has(id) || this.store.has(id))) return false;
    const current = this.keys.currentKey(c.keytable);
    if (c.key <= current) {
      // A newer key is in force already: these objects are visible upstream, so they are here too.
      this.publish(ids);
      this.pendingCommits.delete(changeset);
      return true;
    }
    // Parent 0 (a first key, or a run's re-send, SPEC 11.6): the Commit names the whole key, whatever
    // key is held here.
    const parent = c.parentKey === 0 ? { entries: [] as KeyEntry[] } : this.keys.snapshot(c.keytable, c.parentKey);
    if ((c.parentKey !== 0 && current !== c.parentKey) || parent === undefined) {
      // The parent is not the key held here: the new key's snapshot comes from the repository.
      this.schedule(`keysync:${c.keytable}`, () => this.syncKey(c.keytable));
      return false;
    }
    const changed = ids.map((id) => entryOf(this.staging.get(id)?.record ?? this.store.get(id)!));
    const entries = nextEntries(parent.entries, changed, c.removedPaths);
    if (this.declaredLacking(entries).length > 0) {
      // An object of the key at a declared path is not here (evicted, or deleted since): the
      // repository's snapshot and its objects first (syncKey fetches every one before the flip).
      this.schedule(`keysync:${c.keytable}`, () => this.syncKey(c.keytable));
      return false;
    }
    this.flipTo({ keytable: c.keytable, key: c.key, parentKey: c.parentKey, changeset, committedAt: Date.now(), entries }, ids);
    return true;
  }

  /** Fetches the objects a pending commit still lacks, then flips. */
  private async completeCommit(changeset: string): Promise<void> {
    const c = this.pendingCommits.get(changeset);
    if (c === undefined) return;
    let ids = c.objectIds;
    if (ids.length === 0 && c.objectCount > 0) {
      const response = await this.upstream.fetch(`/changesets/${changeset}`);
      // A run's re-send (SPEC 11.6) is no changeset of the repository: its key's snapshot names the objects.
      if (response.status === 404 && c.parentKey === 0) return this.syncKey(c.keytable);
      if (response.status !== 200) throw new UpstreamUnavailable(`GET /changesets/${changeset} answered ${response.status}`);
      ids = (JSON.parse(response.body.toString()) as ChangesetState).objects.map((o) => o.id);
      this.pendingCommits.set(changeset, { ...c, objectIds: ids });
    }
    for (const id of ids) if (!this.staging.has(id) && !this.store.has(id)) await this.fetchStaged(id, changeset);
    this.tryFlip(changeset);
  }

  /** Fetches an object of a commit into staging (concurrent requests for it share one fetch). */
  private async fetchStaged(id: string, changeset: string): Promise<void> {
    await this.shared(`stage:${id}`, async () => {
      const d = await this.download(`/download/${id}`, {}, "changes", undefined);
      if (d === "not-found") return "not-found";
      this.staging.stage(d.record, d.body, changeset, Date.now());
      return { record: d.record };
    });
  }

  /** Brings the keytable to the repository's current key: its snapshot, then every object it lacks. */
  private async syncKey(keytable: string): Promise<void> {
    const response = await this.upstream.fetch(`/keys/${encodeURIComponent(keytable)}`);
    if (response.status === 404) return;
    if (response.status !== 200) throw new UpstreamUnavailable(`GET /keys/${keytable} answered ${response.status}`);
    const snapshot = JSON.parse(response.body.toString()) as KeySnapshot;
    if (snapshot.key <= this.keys.currentKey(keytable)) return;
    const pseudo = `key-${keytable}-${snapshot.key}`;
    for (const e of snapshot.entries) if (!this.staging.has(e.id) && !this.store.has(e.id)) await this.fetchStaged(e.id, pseudo);
    const ids = snapshot.entries.map((e) => e.id);
    if (!ids.every((id) => this.staging.has(id) || this.store.has(id))) throw new UpstreamUnavailable(`key ${keytable}/${snapshot.key}: objects missing upstream`);
    const lacking = this.declaredLacking(snapshot.entries);
    if (lacking.length > 0) throw new UpstreamUnavailable(`key ${keytable}/${snapshot.key}: declared paths not held: ${lacking.slice(0, 5).join(", ")}`);
    this.flipTo(snapshot, ids);
    for (const [cs, c] of this.pendingCommits) if (c.keytable === keytable && c.key <= snapshot.key) {
      this.publish(c.objectIds);
      this.pendingCommits.delete(cs);
    }
  }

  private onHeartbeatKeys(hb: HeartbeatInfo): void {
    if (!this.upstream.configured) return;
    for (const k of hb.keys ?? []) {
      if (k.key <= this.keys.currentKey(k.keytable)) continue;
      if ([...this.pendingCommits.values()].some((c) => c.keytable === k.keytable && c.key >= k.key)) continue;
      this.schedule(`keysync:${k.keytable}`, () => this.syncKey(k.keytable));
    }
  }

  /** Staged objects into the store, all in this turn of the event loop (readers see all or none). */
  private publish(ids: readonly string[]): void {
    for (const o of this.staging.take(ids)) void this.keep(o.record, o.payload);
  }

  private flipTo(snapshot: KeySnapshot, ids: readonly string[]): void {
    this.publish(ids);
    if (this.keys.flip(snapshot)) {
      this.counters.keyFlips++;
      this.log.info({ keytable: snapshot.keytable, key: snapshot.key, objects: snapshot.entries.length }, "flipped to a new key");
    }
    this.pendingCommits.delete(snapshot.changeset);
  }

  // ---- consumer declarations (consumers/) --------------------------------------------------------

  /** The entries at declared paths whose object is neither staged nor stored (a flip waits for them). */
  private declaredLacking(entries: readonly KeyEntry[]): string[] {
    if (this.consumers.size === 0) return [];
    return entries.filter((e) => this.consumers.isDeclared(e.path) && !this.staging.has(e.id) && !this.store.has(e.id)).map((e) => e.path);
  }

  /** A declaration changed: what it names and is not held is fetched now, without waiting for a read. */
  declarationsChanged(): void {
    if (!this.upstream.configured || this.closed || this.consumers.size === 0) return;
    this.schedule("declared", () => this.fetchDeclared());
  }

  /** Whether the object valid at `now` at `path` is held. */
  holdsPath(path: string, now: number): boolean {
    return this.store.find({ path, timestamp: now, metadata: {} }) !== undefined;
  }

  /** Whether every object the pattern's last listing named, and still valid, is held (false before a listing). */
  holdsPattern(pattern: string, now: number): boolean {
    const listed = this.patternListings.get(pattern);
    if (listed === undefined) return false;
    return listed.objects.every((o) => o.validUntil <= now || this.store.has(o.id));
  }

  /** Periodically: declared paths not held, and patterns due to be listed again, are fetched. */
  private refreshDeclared(now: number): void {
    if (this.consumers.size === 0 || this.pending.has("declared")) return;
    const due =
      [...this.consumers.paths().keys()].some((p) => !this.holdsPath(p, now)) ||
      [...this.consumers.patterns().keys()].some((p) => !this.holdsPattern(p, now) || now - (this.patternListings.get(p)?.listedAt ?? 0) >= PATTERN_RELIST_MS);
    if (due) this.declarationsChanged();
  }

  /** Fetches every declared object not held: the one valid now at each path, what /latest lists under each pattern. */
  private async fetchDeclared(): Promise<void> {
    const now = Date.now();
    const ids = new Set<string>();
    const paths = [...this.consumers.paths().keys()].filter((p) => !this.holdsPath(p, now));
    for (const pattern of this.consumers.patterns().keys()) {
      let listed = this.patternListings.get(pattern);
      if (listed === undefined || now - listed.listedAt >= PATTERN_RELIST_MS) {
        listed = { objects: await this.listPattern(pattern, now), listedAt: now };
        this.patternListings.set(pattern, listed);
      }
      for (const o of listed.objects) if (o.validUntil > now && !this.store.has(o.id)) ids.add(o.id);
    }
    for (const pattern of [...this.patternListings.keys()]) if (!this.consumers.patterns().has(pattern)) this.patternListings.delete(pattern);
    const work: (() => Promise<unknown>)[] = [
      ...paths.map((path) => () => this.shared(`declared:${path}`, () => this.fetchObject(`/${path.split("/").map(encodeURIComponent).join("/")}/${now}`, {}, "upstream", path))),
      ...[...ids].map((id) => () => this.shared(`download:${id}`, () => this.fetchObject(`/download/${id}`, {}, "upstream", undefined))),
    ];
    // A few at a time: at once, without one cache opening a connection per declared object. One that
    // fails does not stop the others; the task is retried (with backoff) once they are done.
    let next = 0;
    let failure: unknown;
    const worker = async (): Promise<void> => {
      while (next < work.length && !this.closed) await work[next++]!().catch((error: unknown) => (failure ??= error));
    };
    await Promise.all(Array.from({ length: Math.min(DECLARED_FETCH_CONCURRENCY, work.length) }, worker));
    if (work.length > 0) this.log.info({ paths: paths.length, patternObjects: ids.size, failed: failure !== undefined }, "declared objects fetched");
    if (failure !== undefined) throw failure;
  }

  /** The ids of the objects valid now under a prefix pattern, newest per path, as the upstream's /latest lists them. */
  private async listPattern(pattern: string, now: number): Promise<ListedObject[]> {
    const prefix = patternPrefix(pattern);
    const regex = prefix.replace(/[.+?^${}()|[\]\\]/g, "\\$&");
    const url = `/latest/${regex.split("/").map(encodeURIComponent).join("/")}.*/${now}?Accept=application/json`;
    const response = await this.upstream.fetch(url, { headers: { "browse-limit": String(PATTERN_LIST_LIMIT) } });
    if (response.status >= 400 && response.status < 500) {
      // Refused (not a failure of the upstream): nothing listed, asked again at the next listing, and
      // no retry that would hold up the cache's other background work meanwhile.
      this.log.warn({ pattern, status: response.status }, "declared pattern: the upstream's /latest refused its listing");
      return [];
    }
    if (response.status !== 200) throw new UpstreamUnavailable(`declared pattern ${pattern}: /latest answered ${response.status}`);
    const listing = JSON.parse(response.body.toString()) as { objects: { id: string; path: string; validFrom: number; validUntil: number }[] };
    return listing.objects.filter((o) => o.path.startsWith(prefix) && o.validFrom <= now && now < o.validUntil).map((o) => ({ id: o.id, validUntil: o.validUntil }));
  }

  // ---- a silent group -----------------------------------------------------------------------------

  private watchGroup(now: number): void {
    if (this.closed) return;
    this.onTransition(this.groupWatch.check(now));
    if (this.groupWatch.episode === null) return;
    if (now - this.lastRejoinAt >= this.silence.rejoinMs) {
      this.lastRejoinAt = now;
      this.counters.rejoins++;
      this.receiver.rejoin();
    }
    if (now - this.lastPollAt >= this.silence.pollMs) {
      this.lastPollAt = now;
      this.pollChangeLog();
    }
  }

  private onTransition(transition: Transition | null): void {
    if (transition === null) return;
    if (transition.kind === "silent") {
      this.counters.silentEpisodes++;
      this.log.warn({ reason: transition.episode.reason, since: new Date(transition.episode.since).toISOString() }, "multicast group silent: rejoining it and reading the repository's change log until heartbeats return");
      const now = Date.now();
      this.lastRejoinAt = now;
      this.counters.rejoins++;
      this.receiver.rejoin();
      this.lastPollAt = now;
      this.pollChangeLog();
    } else {
      this.log.warn({ silentMs: transition.lastedMs, reason: transition.episode.reason }, "multicast group heard again");
      // What was sent while the group was silent and the last poll did not see.
      this.pollChangeLog();
    }
  }

  /** Reads the upstream's change log from where it was applied (the start first if it never ran). */
  private pollChangeLog(): void {
    if (!this.upstream.configured) return;
    this.counters.changeLogPolls++;
    const sender = this.upstreamSender;
    if (sender === undefined) {
      if (!this.pending.has("start")) this.schedule("start", () => this.syncStart());
      return;
    }
    this.schedule(`changes:${sender}`, () => this.syncChanges(sender, this.applied.get(sender) ?? 0));
  }

  /** "ok", or "degraded" with the reasons: what /health answers. */
  health(): { status: "ok" | "degraded"; reasons: string[] } {
    const reasons: string[] = [];
    const episode = this.groupWatch.episode;
    if (episode !== null) reasons.push(`multicast silent since ${new Date(episode.since).toISOString()}: ${episode.reason}`);
    if (this.upstreamProblem !== undefined) reasons.push(`upstream work failing: ${this.upstreamProblem}`);
    return { status: reasons.length === 0 ? "ok" : "degraded", reasons };
  }

  private schedule(name: string, task: () => Promise<void>): void {
    this.pending.set(name, task);
    if (this.retryTimer === null) void this.runPending();
  }

  private running: Promise<void> | null = null;
  private rerun = false;

  private runPending(): Promise<void> {
    if (this.running !== null) {
      this.rerun = true;
      return this.running;
    }
    this.running = this.drainPending().finally(() => {
      this.running = null;
      if (this.rerun && this.retryTimer === null) {
        this.rerun = false;
        void this.runPending();
      }
    });
    return this.running;
  }

  private async drainPending(): Promise<void> {
    if (this.closed) return;
    for (const [name, task] of [...this.pending]) {
      try {
        await task();
        this.pending.delete(name);
        this.retryDelay = this.options.retryBaseMs;
        this.upstreamProblem = undefined;
      } catch (error) {
        this.counters.upstreamErrors++;
        this.upstreamProblem = (error as Error).message;
        this.log.warn({ task: name, err: error, retryInMs: this.retryDelay }, "upstream work failed; retrying with backoff");
        if (this.retryTimer === null && !this.closed) {
          this.retryTimer = setTimeout(() => {
            this.retryTimer = null;
            void this.runPending();
          }, this.retryDelay);
          this.retryTimer.unref();
          this.retryDelay = Math.min(this.retryDelay * 2, 30_000);
        }
        return;
      }
    }
  }

  private sweep(): void {
    const gone = this.consumers.expire(Date.now());
    if (gone.length > 0) this.log.info({ consumers: gone }, "consumer declarations expired");
    this.staging.expire(Date.now());
    const dropped = this.store.sweep(Date.now());
    this.counters.evicted += dropped.length;
  }

  status(): Record<string, unknown> {
    return {
      multicast: this.listening,
      repairLatencyMs: this.repairLatency.summary(),
      senders: Object.fromEntries(this.senders),
      pendingUpstreamWork: [...this.pending.keys()].slice(0, 100),
      pendingUpstreamTasks: this.pending.size,
      multicastGroup: this.groupWatch.toJSON(Date.now()),
      health: this.health(),
      keys: this.keys.keytables(),
      staging: this.staging.stats(),
      pendingCommits: [...this.pendingCommits.values()].map((c) => `${c.keytable}/${c.key}`),
      warmStartDone: this.warmDone,
      consumers: { declarations: this.consumers.size, paths: this.consumers.paths().size, patterns: this.consumers.patterns().size },
      evictions: this.store.counters,
      receiver: this.receiver.counters.toJSON(),
      upstream: { urls: this.options.upstream, ...this.upstream.counters },
    };
  }
}

function entryOf(record: ObjectRecord): KeyEntry {
  return { path: record.meta.path, id: record.id, validFrom: record.meta.validFrom, validUntil: record.meta.validUntil, md5: record.meta.md5, size: record.size };
}
