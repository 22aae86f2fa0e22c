// The body of a CCDB upload (one file part of multipart/form-data, RFC 7578) as one buffer.
// Built here rather than with undici's FormData: with node:http loaded before undici (any process that
// also runs a server, or imports jose), undici 8.12.4 never writes a FormData request and the upload
// stalls until a timeout (seen with a bare script: `import "node:http"` first, then a FormData POST).
import { randomBytes } from "node:crypto";

export interface MultipartUpload {
  readonly body: Buffer;
  readonly contentType: string;
}

/** `payload` as the form field `field` with the file name `fileName`. */
export function multipartUpload(field: string, fileName: string, payload: Uint8Array, type = "application/octet-stream"): MultipartUpload {
  const boundary = `condcast-${randomBytes(12).toString("hex")}`;
  const head = `--${boundary}\r\nContent-Disposition: form-data; name="${quoted(field)}"; filename="${quoted(fileName)}"\r\nContent-Type: ${type}\r\n\r\n`;
  const body = Buffer.concat([Buffer.from(head, "utf8"), payload, Buffer.from(`\r\n--${boundary}--\r\n`, "latin1")]);
  return { body, contentType: `multipart/form-data; boundary=${boundary}` };
}

/** A quoted-string's content as HTML forms escape it (RFC 7578 section 4.2). */
function quoted(s: string): string {
  return s.replace(/\r/g, "%0D").replace(/\n/g, "%0A").replace(/"/g, "%22");
}
