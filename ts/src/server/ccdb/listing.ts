// GET /latest/<pattern>[/<ts>][/k=v] (newest object per path) and GET /browse/... (all, newest first),
// as JSON, XML or text, chosen by the Accept header or ?Accept=.
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from "fastify";
import type { ServerContext } from "../context.js";
import { formatListing, listingFormat, CONTENT_TYPES } from "../http/formatters.js";
import { BadRequest, parseBrowsePath, selectListing, subfolders } from "../model.js";
import { errorResponses } from "../http/schemas.js";
import { epochHeader } from "../http/headers.js";

export const listingRoutes: FastifyPluginAsync<{ ctx: ServerContext }> = async (app, { ctx }) => {
  for (const kind of ["latest", "browse"] as const) {
    const handler = async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
      const url = request.raw.url!.split("?")[0]!;
      const rest = url.slice(`/${kind}`.length);
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
      querystring: { type: "object", properties: { Accept: { type: "string" } } },
      headers: {
        type: "object",
        properties: {
          accept: { type: "string" },
          "browse-limit": { type: "string" },
          "if-not-after": { type: "string", pattern: "^[0-9]+$" },
          "if-not-before": { type: "string", pattern: "^[0-9]+$" },
        },
      },
      response: { 400: errorResponses[400] },
    };
    app.get(`/${kind}`, { schema }, handler);
    app.get(`/${kind}/*`, { schema: { ...schema, params: { type: "object", properties: { "*": { type: "string" } } } } }, handler);
  }
};
