// Writes: POST (upload, multipart with exactly one part), PUT (metadata / end of validity) and DELETE
// on the repository; on a cache every write is redirected upstream with 307. Both roles check the URL
// (and a POST's content type) first, so a malformed write is a 400 from either, never a redirect.
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from "fastify";
import type { ServerContext } from "../context.js";
import { objectHeaders } from "../http/headers.js";
import { BadRequest, parseRequestPath, type ParsedRequest } from "../model.js";
import { errorBody, errorSchema } from "../http/schemas.js";
import { refusedMethod } from "../http/methods.js";
import { isUuid } from "../../wire/ids.js";
import { redirectElsewhere } from "../http/redirect.js";

const params = { type: "object", properties: { "*": { type: "string" } } } as const;

/** The request path of a write, with its timestamp; BadRequest when it has none. */
function writePath(request: FastifyRequest, missing: string): ParsedRequest & { timestamp: number } {
  const parsed = parseRequestPath(request.raw.url!.split("?")[0]!);
  if (parsed.timestamp === undefined) throw new BadRequest(missing);
  return { ...parsed, timestamp: parsed.timestamp };
}

/** An upload's URL and content type: the end of validity it asks for. */
function uploadTarget(request: FastifyRequest): { parsed: ParsedRequest & { timestamp: number }; validUntil: number } {
  const parsed = writePath(request, "a start of validity (epoch ms) must follow the path: /<path>/<from>[/<to>][/<uuid>][/key=value...]");
  const validUntil = parsed.end ?? parsed.timestamp + 1;
  if (!Number.isSafeInteger(validUntil)) throw new BadRequest(`the end of validity ${validUntil} is out of range`);
  if (validUntil <= parsed.timestamp) throw new BadRequest(`the end of validity ${validUntil} is not after its start ${parsed.timestamp}`);
  if (!/^multipart\/form-data\s*(;|$)/i.test(request.headers["content-type"] ?? "")) throw new BadRequest("the POST request doesn't contain the data (expected multipart/form-data with one part)");
  return { parsed, validUntil };
}

interface UploadedPart {
  readonly fileName: string;
  readonly contentType: string;
  readonly payload: Buffer;
}

/** The one part of an upload's multipart body; BadRequest for none, several, or a malformed body. */
async function singlePart(request: FastifyRequest): Promise<UploadedPart> {
  let file: UploadedPart | undefined;
  let count = 0;
  try {
    for await (const part of request.parts()) {
      count++;
      if (count > 1) {
        if (part.type === "file") part.file.resume(); // consume the request, then refuse it
        continue;
      }
      if (part.type === "file") file = { fileName: part.filename, contentType: part.mimetype, payload: await part.toBuffer() };
      else file = { fileName: part.fieldname, contentType: "application/octet-stream", payload: Buffer.from(String(part.value)) };
    }
  } catch (error) {
    // The multipart limits (413) carry their status; the parser's own errors are the client's.
    if ((error as { statusCode?: number }).statusCode !== undefined) throw error;
    throw new BadRequest(`malformed multipart/form-data body: ${(error as Error).message}`);
  }
  if (count === 0 || file === undefined) throw new BadRequest("the POST request doesn't contain the data");
  if (count > 1) throw new BadRequest(`a POST request must carry a single object, this one has ${count} parts`);
  return file;
}

export const writeRoutes: FastifyPluginAsync<{ ctx: ServerContext }> = async (app, { ctx }) => {
  const redirect = (request: FastifyRequest, reply: FastifyReply): FastifyReply => redirectElsewhere(reply, ctx.cache?.writeTarget(), request.raw.url!, "this cache has no upstream to send writes to");
  // A path under a prefix another instance owns (sync/): the owner takes the write.
  const owner = (path: string): string | undefined => ctx.sync?.ownerOf(path);

  app.post("/*", { schema: { summary: "Upload one object (multipart/form-data, exactly one part)", params, response: { 201: { type: "null" }, 307: { type: "null" }, 400: errorSchema, 404: errorSchema, 409: errorSchema, 503: errorSchema, 507: errorSchema } } }, async (request, reply) => {
    if (refusedMethod(request, reply)) return reply;
    const { parsed, validUntil } = uploadTarget(request);
    if (ctx.repository === undefined) return redirect(request, reply);
    const ownedBy = owner(parsed.path);
    if (ownedBy !== undefined) return redirectElsewhere(reply, ownedBy, request.raw.url!, "");
    // Into an open changeset (SPEC 11): stored and multicast now, visible with its commit.
    const changeset = request.headers["condcast-changeset"];
    if (changeset !== undefined && (typeof changeset !== "string" || !isUuid(changeset))) throw new BadRequest(`Condcast-Changeset must be a changeset id (a UUID), got ${JSON.stringify(changeset)}`);
    const file = await singlePart(request);
    const record = await ctx.repository.upload({
      changeset: changeset?.toLowerCase(),
      path: parsed.path,
      validFrom: parsed.timestamp,
      validUntil,
      id: parsed.id,
      metadata: parsed.metadata,
      contentType: file.contentType || "application/octet-stream",
      fileName: file.fileName,
      payload: file.payload,
    });
    const location = `/download/${record.id}`;
    reply.headers(objectHeaders(record));
    reply.removeHeader("Content-Type");
    reply.removeHeader("Accept-Ranges");
    return reply.code(201).header("Location", location).header("Content-Location", location).send();
  });

  app.put(
    "/*",
    {
      schema: {
        summary: "Change an object's end of validity and/or metadata (query parameters; an empty value deletes the key)",
        params,
        querystring: { type: "object", additionalProperties: { type: "string" } },
        response: { 204: { type: "null" }, 304: { type: "null" }, 307: { type: "null" }, 400: errorSchema, 404: errorSchema, 503: errorSchema },
      },
    },
    async (request, reply) => {
      if (refusedMethod(request, reply)) return reply;
      const parsed = writePath(request, "a timestamp must follow the path");
      const metadata = request.query as Record<string, string>;
      if (Object.hasOwn(metadata, "")) throw new BadRequest("empty metadata key in the query (?=value)");
      if (ctx.repository === undefined) return redirect(request, reply);
      const ownedBy = owner(parsed.path);
      if (ownedBy !== undefined) return redirectElsewhere(reply, ownedBy, request.raw.url!, "");
      const record = ctx.store.find({ path: parsed.path, timestamp: parsed.timestamp, id: parsed.id, metadata: parsed.metadata });
      if (record === undefined) return reply.code(404).send(errorBody(404, "No matching objects found"));
      if (parsed.end !== undefined && parsed.end <= record.meta.validFrom) throw new BadRequest(`the new end of validity ${parsed.end} is not after the start ${record.meta.validFrom}`);
      const { record: updated, changed } = await ctx.repository.update(record, { validUntil: parsed.end, metadata });
      reply.headers(objectHeaders(updated));
      reply.removeHeader("Content-Type");
      return reply.code(changed ? 204 : 304).header("Location", `/download/${updated.id}`).send();
    },
  );

  app.delete("/*", { schema: { summary: "Delete the matching object", params, response: { 204: { type: "null" }, 307: { type: "null" }, 400: errorSchema, 404: errorSchema, 503: errorSchema } } }, async (request, reply) => {
    if (refusedMethod(request, reply)) return reply;
    const parsed = writePath(request, "a timestamp must follow the path");
    if (ctx.repository === undefined) return redirect(request, reply);
    const ownedBy = owner(parsed.path);
    if (ownedBy !== undefined) return redirectElsewhere(reply, ownedBy, request.raw.url!, "");
    const record = ctx.store.find({ path: parsed.path, timestamp: parsed.timestamp, id: parsed.id, metadata: parsed.metadata });
    if (record === undefined) return reply.code(404).send(errorBody(404, "No matching objects found"));
    await ctx.repository.remove(record);
    reply.headers(objectHeaders(record));
    reply.removeHeader("Content-Type");
    return reply.code(204).send();
  });
};
