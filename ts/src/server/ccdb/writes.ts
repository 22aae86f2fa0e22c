// Writes: POST (upload, multipart with exactly one part), PUT (metadata / end of validity) and DELETE
// on the repository; on a cache every write is redirected upstream with 307.
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from "fastify";
import type { ServerContext } from "../context.js";
import { objectHeaders } from "../http/headers.js";
import { BadRequest, parseRequestPath } from "../model.js";
import { errorBody, errorSchema } from "../http/schemas.js";

const params = { type: "object", properties: { "*": { type: "string" } } } as const;

export const writeRoutes: FastifyPluginAsync<{ ctx: ServerContext }> = async (app, { ctx }) => {
  const redirect = (request: FastifyRequest, reply: FastifyReply): FastifyReply => {
    const target = ctx.cache?.writeTarget();
    if (target === undefined) return reply.code(503).send(errorBody(503, "this cache has no upstream to send writes to"));
    return reply.code(307).header("Location", new URL(request.raw.url!.replace(/^\/+/, ""), target.endsWith("/") ? target : `${target}/`).toString()).send();
  };

  app.post("/*", { schema: { summary: "Upload one object (multipart/form-data, exactly one part)", params, response: { 201: { type: "null" }, 307: { type: "null" }, 400: errorSchema, 503: errorSchema } } }, async (request, reply) => {
    if (ctx.repository === undefined) return redirect(request, reply);
    const parsed = parseRequestPath(request.raw.url!.split("?")[0]!);
    if (parsed.timestamp === undefined) throw new BadRequest("a start of validity (epoch ms) must follow the path: /<path>/<from>[/<to>][/<uuid>][/key=value...]");
    const validUntil = parsed.end ?? parsed.timestamp + 1;
    if (validUntil <= parsed.timestamp) throw new BadRequest(`the end of validity ${validUntil} is not after its start ${parsed.timestamp}`);
    if (!request.isMultipart()) throw new BadRequest("the POST request doesn't contain the data (expected multipart/form-data with one part)");
    let file: { fileName: string; contentType: string; payload: Buffer } | undefined;
    let count = 0;
    for await (const part of request.parts()) {
      count++;
      if (count > 1) {
        if (part.type === "file") part.file.resume(); // consume the request, then refuse it
        continue;
      }
      if (part.type === "file") file = { fileName: part.filename, contentType: part.mimetype, payload: await part.toBuffer() };
      else file = { fileName: part.fieldname, contentType: "application/octet-stream", payload: Buffer.from(String(part.value)) };
    }
    if (count === 0 || file === undefined) throw new BadRequest("the POST request doesn't contain the data");
    if (count > 1) throw new BadRequest(`a POST request must carry a single object, this one has ${count} parts`);
    const record = await ctx.repository.upload({
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
      if (ctx.repository === undefined) return redirect(request, reply);
      const parsed = parseRequestPath(request.raw.url!.split("?")[0]!);
      if (parsed.timestamp === undefined) throw new BadRequest("a timestamp must follow the path");
      const record = ctx.store.find({ path: parsed.path, timestamp: parsed.timestamp, id: parsed.id, metadata: parsed.metadata });
      if (record === undefined) return reply.code(404).send(errorBody(404, "No matching objects found"));
      if (parsed.end !== undefined && parsed.end <= record.meta.validFrom) throw new BadRequest(`the new end of validity ${parsed.end} is not after the start ${record.meta.validFrom}`);
      const { record: updated, changed } = await ctx.repository.update(record, { validUntil: parsed.end, metadata: request.query as Record<string, string> });
      reply.headers(objectHeaders(updated));
      reply.removeHeader("Content-Type");
      return reply.code(changed ? 204 : 304).header("Location", `/download/${updated.id}`).send();
    },
  );

  app.delete("/*", { schema: { summary: "Delete the matching object", params, response: { 204: { type: "null" }, 307: { type: "null" }, 400: errorSchema, 404: errorSchema, 503: errorSchema } } }, async (request, reply) => {
    if (ctx.repository === undefined) return redirect(request, reply);
    const parsed = parseRequestPath(request.raw.url!.split("?")[0]!);
    if (parsed.timestamp === undefined) throw new BadRequest("a timestamp must follow the path");
    const record = ctx.store.find({ path: parsed.path, timestamp: parsed.timestamp, id: parsed.id, metadata: parsed.metadata });
    if (record === undefined) return reply.code(404).send(errorBody(404, "No matching objects found"));
    await ctx.repository.remove(record);
    reply.headers(objectHeaders(record));
    reply.removeHeader("Content-Type");
    return reply.code(204).send();
  });
};
