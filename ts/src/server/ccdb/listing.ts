// GET /latest/<pattern>[/<ts>][/k=v] (newest object per path) and GET /browse/... (all, newest first),
// as JSON, XML or text, chosen by the Accept header or ?Accept=.
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from "fastify";
import type { ServerContext } from "../context.js";
import { formatListing, listingFormat, CONTENT_TYPES } from "../http/formatters.js";
import { BadRequest, parseBrowsePath, selectListing, subfolders } from "../model.js";
import { errorBody, errorResponses, errorSchema } from "../http/schemas.js";
import { epochHeader } from "../http/headers.js";

export const listingRoutes: FastifyPluginAsync<{ ctx: ServerContext }> = async (app, { ctx }) => {
  for (const kind of ["latest", "browse"] as const) {
    const handler = async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
      const url = request.raw.url!.split("?")[0]!;
      const rest = url.slice(`/${kind}`.length);
      const instance = (request.query as { instance?: string }).instance;
      if (instance !== undefined && !isThisInstance(ctx, instance)) return remoteListing(ctx, request, reply, instance, url);
      const { pattern, timestamp, metadata } = parseBrowsePath(rest);
      const limitHeader = request.headers["browse-limit"];
      let limit: number | undefined;
      if (typeof limitHeader === "string") {
        if (!/^\d+$/.test(limitHeader)) throw new BadRequest(`Browse-Limit must be a number, got ${JSON.stringify(limitHeader)}`);
        limit = Number(limitHeader);
      }
      const records = pattern.text === "" ? ctx.store.list({ text: "", kind: "regex", matches: () => true }) : ctx.store.list(pattern);
      const objects = selectListing(
        records,
        pattern.text === "" ? { text: "", kind: "regex", matches: () => true } : pattern,
        {
          timestamp,
          metadata,
          notAfter: epochHeader(request.headers, "if-not-after"),
          notBefore: epochHeader(request.headers, "if-not-before"),
        },
        kind === "latest",
        limit,
      );
      const folders = pattern.kind === "exact" ? subfolders(pattern.text, ctx.store.paths()) : [];
      const query = request.query as { Accept?: string };
      const format = listingFormat(query.Accept ?? request.headers.accept);
      return reply.code(200).header("Content-Type", CONTENT_TYPES[format]).header("Cache-Control", "no-cache").send(formatListing(format, objects, folders));
    };
    const schema = {
      summary: kind === "latest" ? "Newest object per matching path" : "All matching objects, newest first",
      querystring: { type: "object", properties: { Accept: { type: "string" }, instance: { type: "string", description: "answer for this peer instance's namespace (sync/, docs/INSTANCES.md)" } } },
      headers: {
        type: "object",
        properties: {
          accept: { type: "string" },
          "browse-limit": { type: "string" },
          "if-not-after": { type: "string", pattern: "^[0-9]+$" },
          "if-not-before": { type: "string", pattern: "^[0-9]+$" },
        },
      },
      response: { 400: errorResponses[400], 404: errorSchema, 502: errorSchema, 503: errorSchema },
    };
    app.get(`/${kind}`, { schema }, handler);
    app.get(`/${kind}/*`, { schema: { ...schema, params: { type: "object", properties: { "*": { type: "string" } } } } }, handler);
  }
};

function isThisInstance(ctx: ServerContext, instance: string): boolean {
  return (ctx.sync?.view(0) as { instance?: string } | undefined)?.instance === instance;
}

/**
 * ?instance=NAME: the listing of a peer instance's namespace, asked of the peer with this instance's
 * token and passed through (nothing is mirrored or kept). 404 for a name that is no peer; 502 when the
 * peer refuses or fails, 503 when it cannot be reached, each with the reason.
 */
async function remoteListing(ctx: ServerContext, request: FastifyRequest, reply: FastifyReply, instance: string, url: string): Promise<FastifyReply> {
  const accept = (request.query as { Accept?: string }).Accept;
  const headers: Record<string, string> = {};
  for (const name of ["accept", "browse-limit", "if-not-after", "if-not-before"]) {
    const v = request.headers[name];
    if (typeof v === "string") headers[name] = v;
  }
  const asked = ctx.sync?.askPeer(instance, accept === undefined ? url : `${url}?Accept=${encodeURIComponent(accept)}`, headers);
  if (asked === undefined) return reply.code(404).send(errorBody(404, `no peer instance ${JSON.stringify(instance)} is configured here`));
  let answer: Awaited<typeof asked>;
  try {
    answer = await asked;
  } catch (error) {
    return reply.code(503).send(errorBody(503, `peer instance ${instance} unreachable: ${(error as Error).message}`));
  }
  if (answer.status !== 200 && answer.status !== 400) return reply.code(502).send(errorBody(502, `peer instance ${instance} answered ${answer.status}: ${answer.body.toString("utf8").slice(0, 300)}`));
  return reply.code(answer.status).header("Content-Type", answer.contentType).header("Cache-Control", "no-cache").header("Condcast-Instance", instance).send(answer.body);
}
