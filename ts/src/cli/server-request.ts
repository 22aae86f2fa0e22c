// The HTTP side of the commands that talk to a server (changeset, keys, runs, consumers, caches): one
// request, its JSON answer, or an error carrying the server's reason.
import { FormData, request } from "undici";

export interface ServerRequest {
  method?: "GET" | "POST" | "PUT" | "DELETE";
  json?: unknown;
  form?: FormData;
  headers?: Record<string, string>;
}

/** The JSON answer ({"status":N} when the body is empty); throws with the server's reason on an error. */
export async function requestJson(url: string, init: ServerRequest = {}): Promise<unknown> {
  const headers: Record<string, string> = { ...init.headers };
  let body: string | FormData | null = null;
  if (init.json !== undefined) {
    headers["content-type"] = "application/json";
    body = JSON.stringify(init.json);
  } else body = init.form ?? null;
  const response = await request(url, { method: init.method ?? "GET", headers, body });
  const text = await response.body.text();
  if (response.statusCode >= 400) {
    let reason = text;
    try {
      reason = (JSON.parse(text) as { message?: string }).message ?? text;
    } catch {
      // not JSON
    }
    throw new Error(`${init.method ?? "GET"} ${url} answered ${response.statusCode}: ${reason}`);
  }
  return text.length > 0 ? JSON.parse(text) : { status: response.statusCode };
}

/** requestJson, and the answer printed on one line. */
export async function call(out: NodeJS.WritableStream, url: string, init: ServerRequest = {}): Promise<unknown> {
  const value = await requestJson(url, init);
  out.write(`${JSON.stringify(value)}\n`);
  return value;
}
