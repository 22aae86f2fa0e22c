// Keys and changesets over HTTP (SPEC 11, spec/openapi.yaml "keys"): both roles answer the keys (a
// cache from memory, for what it has flipped to); only the repository opens, commits and aborts
// changesets.
import type { FastifyPluginAsync } from "fastify";
import { redirectElsewhere } from "../http/redirect.js";
import { isKeytableName } from "../../wire/object.js";
import { isUuid } from "../../wire/ids.js";
import type { ServerContext } from "../context.js";
import { strictJsonValidator } from "../http/json-body.js";
import { errorBody, errorSchema } from "../http/schemas.js";
import { diffKeys, type KeySnapshot, type KeytableSummary } from "./model.js";
import { FARM_COMMIT_DEFAULTS, waitForFarm } from "../farm/farm-commit.js";
import { DeriveFailure, type DeriveOutcome } from "../derive/coordinator.js";

/** What the key routes read, from the repository's store or a cache's memory. */
export interface KeyReader {
  keytables(): KeytableSummary[];
  currentKey(keytable: string): number;
  snapshot(keytable: string, key: number): KeySnapshot | undefined;
  /** "online/42, calib/3": the current keys, as every read announces them ("" when none). */
  currentHeader(): string;
  /** Resolves once the keytable's key is above `after`, or after `ms` (false). */
  waitForKey(keytable: string, after: number, ms: number): Promise<boolean>;
}

const MAX_WAIT_MS = 60_000;

const entrySchema = {
  type: "object",
  properties: { path: { type: "string" }, id: { type: "string" }, validFrom: { type: "integer" }, validUntil: { type: "integer" }, md5: { type: "string" }, size: { type: "integer" } },
  required: ["path", "id", "validFrom", "validUntil", "md5", "size"],
} as const;
const snapshotSchema = {
  type: "object",
  properties: {
    keytable: { type: "string" },
    key: { type: "integer" },
    parentKey: { type: "integer" },
    changeset: { type: "string" },
    committedAt: { type: "integer" },
    entries: { type: "array", items: entrySchema },
  },
  required: ["keytable", "key", "parentKey", "changeset", "committedAt", "entries"],
} as const;
const changesetSchema = {
  type: "object",
  properties: {
    id: { type: "string" },
    state: { type: "string", enum: ["open", "committed", "aborted"] },
    openedAt: { type: "integer" },
    expiresAt: { type: "integer" },
    objects: { type: "array", items: { type: "object", properties: { id: { type: "string" }, path: { type: "string" } }, required: ["id", "path"] } },
    keytable: { type: "string" },
    key: { type: "integer" },
    closedAt: { type: "integer" },
    reason: { type: "string" },
  },
  required: ["id", "state", "openedAt", "expiresAt", "objects"],
} as const;
/** A commit's answer: the new key, and in farm mode why its Commit went out. */
const commitSchema = {
  ...snapshotSchema,
  properties: {
    ...snapshotSchema.properties,
    farm: {
      type: "object",
      properties: { reason: { type: "string", enum: ["all", "share", "timeout"] }, held: { type: "integer" }, total: { type: "integer" }, share: { type: "number" }, waitedMs: { type: "integer" } },
      required: ["reason", "held", "total", "share", "waitedMs"],
    },
    derived: {
      type: "array",
      items: {
        type: "object",
        properties: { derivation: { type: "string" }, formatter: { type: "string" }, sequence: { type: "integer" }, objectId: { type: "string" }, path: { type: "string" } },
        required: ["derivation", "formatter", "sequence", "objectId", "path"],
      },
    },
  },
} as const;
const tableParams = { type: "object", properties: { keytable: { type: "string" } }, required: ["keytable"] } as const;

export const keyRoutes: FastifyPluginAsync<{ ctx: ServerContext; keys: KeyReader }> = async (app, { ctx, keys }) => {
  const checkTable = (table: string): string | undefined => (isKeytableName(table) ? undefined : `${JSON.stringify(table)} is not a keytable name (1 to 64 of [A-Za-z0-9._-])`);

  app.get("/keys", { schema: { summary: "The keytables and their current keys", response: { 200: { type: "object", properties: { keytables: { type: "array", items: { type: "object", additionalProperties: true } } }, required: ["keytables"] } } } }, async () => ({
    keytables: keys.keytables(),
  }));

  app.get(
    "/keys/:keytable",
    {
      schema: {
        summary: "A keytable's current key with its entries; with ?after=K it waits (up to ?wait ms) for a key above K",
        params: tableParams,
        querystring: { type: "object", properties: { after: { type: "integer", minimum: 0 }, wait: { type: "integer", minimum: 0, maximum: MAX_WAIT_MS, default: 30_000 } } },
        response: { 200: snapshotSchema, 204: { type: "null" }, 400: errorSchema, 404: errorSchema },
      },
    },
    async (request, reply) => {
      const { keytable: table } = request.params as { keytable: string };
      const bad = checkTable(table);
      if (bad !== undefined) return reply.code(400).send(errorBody(400, bad));
      const { after, wait } = request.query as { after?: number; wait: number };
      if (after !== undefined && keys.currentKey(table) <= after && !(await keys.waitForKey(table, after, wait))) return reply.code(204).send();
      const current = keys.currentKey(table);
      const snapshot = current === 0 ? undefined : keys.snapshot(table, current);
      if (snapshot === undefined) return reply.code(404).send(errorBody(404, `keytable ${table} has no key${ctx.role === "cache" ? " on this cache" : ""}`));
      return snapshot;
    },
  );

  app.get(
    "/keys/:keytable/diff",
    {
      schema: {
        summary: "The paths added, changed and removed from key ?from to key ?to",
        params: tableParams,
        querystring: { type: "object", properties: { from: { type: "integer", minimum: 1 }, to: { type: "integer", minimum: 1 } }, required: ["from", "to"] },
        response: { 200: { type: "object", additionalProperties: true }, 400: errorSchema, 404: errorSchema },
      },
    },
    async (request, reply) => {
      const { keytable: table } = request.params as { keytable: string };
      const bad = checkTable(table);
      if (bad !== undefined) return reply.code(400).send(errorBody(400, bad));
      const { from, to } = request.query as { from: number; to: number };
      const a = keys.snapshot(table, from);
      const b = keys.snapshot(table, to);
      if (a === undefined || b === undefined) return reply.code(404).send(errorBody(404, `keytable ${table} has no key ${a === undefined ? from : to}`));
      return diffKeys(a, b);
    },
  );

  app.get(
    "/keys/:keytable/:key",
    {
      schema: {
        summary: "One key of a keytable with its entries (immutable)",
        params: { type: "object", properties: { keytable: { type: "string" }, key: { type: "integer", minimum: 1 } }, required: ["keytable", "key"] },
        response: { 200: snapshotSchema, 400: errorSchema, 404: errorSchema },
      },
    },
    async (request, reply) => {
      const { keytable: table, key } = request.params as { keytable: string; key: number };
      const bad = checkTable(table);
      if (bad !== undefined) return reply.code(400).send(errorBody(400, bad));
      const snapshot = keys.snapshot(table, key);
      if (snapshot === undefined) return reply.code(404).send(errorBody(404, `keytable ${table} has no key ${key}${ctx.role === "cache" ? " on this cache" : ""}`));
      return snapshot;
    },
  );

  // ---- changesets: the repository's -----------------------------------------------------------------

  const repository = ctx.repository;
  const notHere = { 307: { type: "null" }, 503: errorSchema } as const;

  app.post(
    "/changesets",
    {
      validatorCompiler: strictJsonValidator,
      schema: {
        summary: "Open a changeset for a keytable; upload into it with the Condcast-Changeset header",
        body: { type: "object", properties: { keytable: { type: "string" }, ttlMs: { type: "integer", minimum: 1000, maximum: 86_400_000 } }, required: ["keytable"] },
        response: { 201: changesetSchema, 400: errorSchema, ...notHere },
      },
    },
    async (request, reply) => {
      const { keytable, ttlMs } = request.body as { keytable: string; ttlMs?: number };
      const bad = checkTable(keytable);
      if (bad !== undefined) return reply.code(400).send(errorBody(400, bad));
      if (repository === undefined) return writeElsewhere(reply, ctx.cache?.writeTarget(), request.raw.url!);
      const opened = await repository.openChangeset(keytable, ttlMs);
      return reply.code(201).header("Location", `/changesets/${opened.id}`).send(opened);
    },
  );

  const idParams = { type: "object", properties: { id: { type: "string" } }, required: ["id"] } as const;

  app.get("/changesets/:id", { schema: { summary: "A changeset's state and objects", params: idParams, response: { 200: changesetSchema, 400: errorSchema, 404: errorSchema, ...notHere } } }, async (request, reply) => {
    const { id } = request.params as { id: string };
    if (!isUuid(id)) return reply.code(400).send(errorBody(400, `${JSON.stringify(id)} is not a changeset id`));
    if (repository === undefined) return writeElsewhere(reply, ctx.cache?.writeTarget(), request.raw.url!);
    const state = repository.changeset(id);
    return state === undefined ? reply.code(404).send(errorBody(404, `no changeset ${id}`)) : state;
  });

  app.post(
    "/changesets/:id/commit",
    {
      validatorCompiler: strictJsonValidator,
      // The body is optional (commit everything staged); a JSON null is not an object.
      preValidation: async (request) => {
        if (request.body === undefined) request.body = {};
      },
      schema: {
        summary: "Commit: every object of the changeset visible at once, as the keytable's next key (durable when answered)",
        params: idParams,
        body: {
          type: "object",
          properties: {
            removedPaths: { type: "array", items: { type: "string" }, maxItems: 10_000 },
            objects: { type: "array", items: { type: "string" }, maxItems: 100_000 },
            mode: { type: "string", enum: ["immediate", "farm"], default: "immediate" },
            share: { type: "number", minimum: 0, maximum: 1, default: FARM_COMMIT_DEFAULTS.share },
            timeoutMs: { type: "integer", minimum: 0, maximum: FARM_COMMIT_DEFAULTS.maxTimeoutMs, default: FARM_COMMIT_DEFAULTS.timeoutMs },
          },
        },
        response: { 200: commitSchema, 400: errorSchema, 404: errorSchema, 409: errorSchema, 413: errorSchema, 502: errorSchema, 504: errorSchema, ...notHere },
      },
    },
    async (request, reply) => {
      const { id } = request.params as { id: string };
      if (!isUuid(id)) return reply.code(400).send(errorBody(400, `${JSON.stringify(id)} is not a changeset id`));
      if (repository === undefined) return writeElsewhere(reply, ctx.cache?.writeTarget(), request.raw.url!);
      const body = request.body as { removedPaths?: string[]; objects?: string[]; mode: "immediate" | "farm"; share: number; timeoutMs: number };
      const removedPaths = body.removedPaths ?? [];
      const farmWide = body.mode === "farm" && ctx.farm !== undefined;
      const open = repository.changeset(id);
      const deriving = open?.state === "open" && ctx.derive?.appliesTo(open.keytable) === true;
      if (!farmWide && !deriving) return repository.commitChangeset(id, removedPaths, body.objects);
      if (open === undefined) return reply.code(404).send(errorBody(404, `no changeset ${id}`));
      if (open.state !== "open") return reply.code(409).send(errorBody(409, `changeset ${id} is ${open.state}`));
      // Derived objects first (derive/): held before the commit transaction, like the farm's wait,
      // until each affected derivation's formatter uploaded its output into this changeset.
      let derived: DeriveOutcome | undefined;
      if (deriving) {
        try {
          derived = await ctx.derive!.derive(id, removedPaths);
        } catch (error) {
          if (!(error instanceof DeriveFailure)) throw error;
          request.log.warn({ changeset: id, reason: error.message }, "derivation failed: commit refused");
          if (error.abort) await repository.abortChangeset(id, `derivation failed: ${error.message}`).catch(() => undefined);
          return reply.code(error.statusCode).send(errorBody(error.statusCode, `${error.message}${error.abort ? `; changeset ${id} aborted, the current key unchanged` : ""}`));
        }
      }
      // The commit holds exactly what the derivations saw plus what they made: an upload that came in
      // meanwhile (not built from) is a 409 and nothing changes.
      const expected = derived === undefined || derived.derived.length === 0 ? body.objects : [...(body.objects ?? derived.stagedBefore), ...derived.derived.map((d) => d.objectId)];
      const derivedPart = derived === undefined ? {} : { derived: derived.derived };
      if (!farmWide) return { ...(await repository.commitChangeset(id, removedPaths, expected)), ...derivedPart };
      // Farm-wide: first wait until the reporting caches hold the staged set (or the share, or the
      // timeout), then commit and send the Commit at once, so no server shows the key before the flip.
      const outcome = await waitForFarm(ctx.farm!, id, (repository.changeset(id)?.objects ?? open.objects).length, body.share, body.timeoutMs);
      const snapshot = await repository.commitChangeset(id, removedPaths, expected);
      ctx.farm!.commits[outcome.reason]++;
      request.log.info({ changeset: id, ...outcome }, "farm-wide commit");
      return { ...snapshot, ...derivedPart, farm: outcome };
    },
  );

  // An action like commit, not a DELETE: the changeset stays readable (state "aborted", its reason).
  app.post(
    "/changesets/:id/abort",
    { schema: { summary: "Abort: the changeset's objects are dropped, nothing of it ever visible", params: idParams, response: { 200: changesetSchema, 400: errorSchema, 404: errorSchema, 409: errorSchema, ...notHere } } },
    async (request, reply) => {
      const { id } = request.params as { id: string };
      if (!isUuid(id)) return reply.code(400).send(errorBody(400, `${JSON.stringify(id)} is not a changeset id`));
      if (repository === undefined) return writeElsewhere(reply, ctx.cache?.writeTarget(), request.raw.url!);
      await repository.abortChangeset(id, "aborted by request");
      return repository.changeset(id);
    },
  );
};

function writeElsewhere(reply: import("fastify").FastifyReply, base: string | undefined, url: string): import("fastify").FastifyReply {
  return redirectElsewhere(reply, base, url, "this cache has no upstream to send changesets to");
}
