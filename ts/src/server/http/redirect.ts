// 307 to the server that takes a request this one does not: a cache's writes go to its upstream, a
// mirror's writes under a mirrored prefix to the prefix's owner (sync/). The request URL (path and
// query) is kept as is, resolved against the target's base URL.
import type { FastifyReply } from "fastify";
import { errorBody } from "./schemas.js";

/** `url` (a request's path and query) on the server at `base`. */
export function elsewhereUrl(base: string, url: string): string {
  return new URL(url.replace(/^\/+/, ""), base.endsWith("/") ? base : `${base}/`).toString();
}

/** 307 to `url` on `base`; 503 with `missing` as the reason when there is no base to send it to. */
export function redirectElsewhere(reply: FastifyReply, base: string | undefined, url: string, missing: string): FastifyReply {
  if (base === undefined) return reply.code(503).send(errorBody(503, missing));
  return reply.code(307).header("Location", elsewhereUrl(base, url)).send();
}
