// The HTTP side of the commands that talk to a server (changeset, keys, runs, consumers, caches): one
// request, its JSON answer, or an error carrying the server's reason.
import { readFileSync } from "node:fs";
import { request, type Dispatcher } from "undici";
import { clientAgent } from "../server/http/client.js";
import type { MultipartUpload } from "../server/http/multipart-upload.js";
import { UsageError, stringFlag, type ParsedArgs } from "./options.js";

/** The flags of every command that talks to a server: a bearer token and the CA for https. */
export const CLIENT_FLAGS = {
  "token-file": { type: "string" },
  "ca-file": { type: "string" },
} as const;

export const CLIENT_USAGE = `  --token-file FILE           bearer token sent as Authorization (or the token itself in CONDCAST_TOKEN)
  --ca-file FILE              PEM CA certificate(s) trusted for an https server`;

/** What every request of this process carries (one command per process). */
let session: { token?: string | undefined; dispatcher?: Dispatcher | undefined } = {};

/** Reads --token-file (else CONDCAST_TOKEN) and --ca-file for the requests that follow. */
export function useClientFlags(args: ParsedArgs, env: NodeJS.ProcessEnv): void {
  const tokenFile = stringFlag(args, "token-file");
  let token = env.CONDCAST_TOKEN?.trim() || undefined;
  if (tokenFile !== undefined) {
    try {
      token = readFileSync(tokenFile, "utf8").trim();
    } catch (error) {
      throw new UsageError(`--token-file ${tokenFile}: ${(error as Error).message}`);
    }
  }
  const caFile = stringFlag(args, "ca-file");
  let dispatcher: Dispatcher | undefined;
  try {
    dispatcher = caFile === undefined ? undefined : clientAgent({ caFile });
  } catch (error) {
    throw new UsageError(`--ca-file: ${(error as Error).message}`);
  }
  session = { token, dispatcher };
}

export interface ServerRequest {
  method?: "GET" | "POST" | "PUT" | "DELETE";
  json?: unknown;
  form?: MultipartUpload;
  headers?: Record<string, string>;
}

/** One request with the session's token and CA (useClientFlags): its status, headers and body text. */
export async function sendRequest(url: string, init: ServerRequest = {}): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; text: string }> {
  const headers: Record<string, string> = { ...(session.token !== undefined ? { authorization: `Bearer ${session.token}` } : {}), ...init.headers };
  let body: string | Buffer | null = null;
  if (init.json !== undefined) {
    headers["content-type"] = "application/json";
    body = JSON.stringify(init.json);
  } else if (init.form !== undefined) {
    headers["content-type"] = init.form.contentType;
    body = init.form.body;
  }
  const response = await request(url, { method: init.method ?? "GET", headers, body, ...(session.dispatcher !== undefined ? { dispatcher: session.dispatcher } : {}) });
  return { status: response.statusCode, headers: response.headers, text: await response.body.text() };
}

/** The JSON answer ({"status":N} when the body is empty); throws with the server's reason on an error. */
export async function requestJson(url: string, init: ServerRequest = {}): Promise<unknown> {
  const { status, text } = await sendRequest(url, init);
  if (status >= 400) {
    let reason = text;
    try {
      reason = (JSON.parse(text) as { message?: string }).message ?? text;
    } catch {
      // not JSON
    }
    throw new Error(`${init.method ?? "GET"} ${url} answered ${status}: ${reason}`);
  }
  return text.length > 0 ? JSON.parse(text) : { status };
}

/** requestJson, and the answer printed on one line. */
export async function call(out: NodeJS.WritableStream, url: string, init: ServerRequest = {}): Promise<unknown> {
  const value = await requestJson(url, init);
  out.write(`${JSON.stringify(value)}\n`);
  return value;
}
