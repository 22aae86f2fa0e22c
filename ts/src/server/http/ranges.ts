// HTTP byte ranges (RFC 9110 14): parsing a Range header, writing multipart/byteranges, and reading
// a 206 answer back (the cache's repair).

/** Inclusive byte range [first, last]. */
export interface InclusiveRange {
  readonly first: number;
  readonly last: number;
}

/** The ranges of a `bytes=` header within `size`; "invalid" when malformed or unsatisfiable. */
export function parseRange(header: string, size: number): InclusiveRange[] | "invalid" {
  const m = /^\s*bytes\s*=\s*(.+)$/i.exec(header);
  if (m === null) return "invalid";
  const out: InclusiveRange[] = [];
  for (const part of m[1]!.split(",")) {
    const spec = /^\s*(\d*)\s*-\s*(\d*)\s*$/.exec(part);
    if (spec === null || (spec[1] === "" && spec[2] === "")) return "invalid";
    let first: number;
    let last: number;
    if (spec[1] === "") {
      const suffix = Number(spec[2]);
      if (suffix === 0) return "invalid";
      first = Math.max(size - suffix, 0);
      last = size - 1;
    } else {
      first = Number(spec[1]);
      last = spec[2] === "" ? size - 1 : Math.min(Number(spec[2]), size - 1);
      if (spec[2] !== "" && Number(spec[2]) < first) return "invalid";
    }
    if (first >= size || last < first) return "invalid";
    out.push({ first, last });
  }
  return out.length > 0 ? out : "invalid";
}

export function boundaryFor(id: string): string {
  return `THIS_STRING_SEPARATES_${id}`;
}

/** A multipart/byteranges body. */
export function multipartByteranges(payload: Uint8Array, ranges: readonly InclusiveRange[], contentType: string, boundary: string): Buffer {
  const parts: Buffer[] = [];
  for (const r of ranges) {
    parts.push(Buffer.from(`--${boundary}\r\nContent-Type: ${contentType}\r\nContent-Range: bytes ${r.first}-${r.last}/${payload.length}\r\n\r\n`));
    parts.push(Buffer.from(payload.buffer, payload.byteOffset + r.first, r.last - r.first + 1));
    parts.push(Buffer.from("\r\n"));
  }
  parts.push(Buffer.from(`--${boundary}--\r\n`));
  return Buffer.concat(parts);
}

/** The pieces of a 206 answer: one (Content-Range header) or several (multipart/byteranges). */
export function parseRangeResponse(contentType: string, contentRange: string | undefined, body: Buffer): { first: number; bytes: Buffer }[] {
  const boundary = /multipart\/byteranges;\s*boundary="?([^";]+)"?/i.exec(contentType)?.[1];
  if (boundary === undefined) {
    const m = /bytes\s+(\d+)-(\d+)\//.exec(contentRange ?? "");
    if (m === null) throw new Error("206 without a Content-Range");
    const first = Number(m[1]);
    if (Number(m[2]) - first + 1 !== body.length) throw new Error("206 body length does not match its Content-Range");
    return [{ first, bytes: body }];
  }
  const out: { first: number; bytes: Buffer }[] = [];
  const delimiter = Buffer.from(`--${boundary}`);
  let at = body.indexOf(delimiter);
  while (at >= 0) {
    const afterDelimiter = at + delimiter.length;
    if (body.subarray(afterDelimiter, afterDelimiter + 2).toString() === "--") break;
    const headerEnd = body.indexOf("\r\n\r\n", afterDelimiter);
    if (headerEnd < 0) throw new Error("truncated multipart/byteranges part");
    const headers = body.subarray(afterDelimiter, headerEnd).toString("latin1");
    const m = /content-range:\s*bytes\s+(\d+)-(\d+)\//i.exec(headers);
    if (m === null) throw new Error("multipart/byteranges part without Content-Range");
    const first = Number(m[1]);
    const length = Number(m[2]) - first + 1;
    const start = headerEnd + 4;
    if (start + length > body.length) throw new Error("truncated multipart/byteranges part");
    out.push({ first, bytes: body.subarray(start, start + length) });
    at = body.indexOf(delimiter, start + length);
  }
  return out;
}
