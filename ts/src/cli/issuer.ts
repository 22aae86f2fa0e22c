// `condcast issuer` (a local token issuer: key pair in a directory, JWKS and discovery served on
// loopback) and `condcast token` (prints a WLCG-profile access token signed with that key).
import { UsageError, intFlag, parseFlags, requiredFlag, stringFlag } from "./options.js";
// jose is loaded by these two commands only, when they run: loaded at start-up by every command, it made
// the multipart uploads of `condcast formatter` and `condcast produce` (undici FormData) stall.
const issuerModule = (): Promise<typeof import("../server/auth/issuer.js")> => import("../server/auth/issuer.js");

export const ISSUER_USAGE = `usage: condcast issuer --dir DIR [--listen 127.0.0.1:PORT] [--issuer URL] [--rotate] [--retire]
A local token issuer for tests and demos: makes an ES256 key pair in DIR when there is none and serves
GET /.well-known/openid-configuration and GET /jwks (jwksUri for serve --auth is URL/jwks).
  --listen HOST:PORT          default 127.0.0.1:8443; prints the issuer URL on one line once listening
  --issuer URL                the iss of its tokens, default http://HOST:PORT
  --rotate                    adds a new signing key (newer tokens use it; the old key stays published)
                              and exits
  --retire                    unpublishes every key but the newest and exits`;

export const TOKEN_USAGE = `usage: condcast token --dir DIR --issuer URL --aud AUDIENCE --scope "SCOPE ..." [--ttl S] [--sub NAME]
Prints an access token signed with DIR's newest key (condcast issuer), with the WLCG profile's claims:
  --scope "storage.create:/TPC storage.read:/"   capability scopes, paths relative to the issuer's prefix
  --aud AUDIENCE[,AUDIENCE...]  the instances it is for (their --auth audience)
  --ttl S                     lifetime in seconds, default 3600
  --sub NAME                  the subject, default condcast-local`;

const ISSUER_FLAGS = {
  dir: { type: "string" },
  listen: { type: "string" },
  issuer: { type: "string" },
  rotate: { type: "boolean" },
  retire: { type: "boolean" },
  help: { type: "boolean" },
} as const;

const TOKEN_FLAGS = {
  dir: { type: "string" },
  issuer: { type: "string" },
  aud: { type: "string" },
  scope: { type: "string" },
  // Not --ttl: CONDCAST_TTL is the multicast TTL every command reads from the environment.
  ttl: { type: "string" },
  sub: { type: "string" },
  help: { type: "boolean" },
} as const;

export async function runIssuer(argv: string[], env: NodeJS.ProcessEnv, out: NodeJS.WritableStream): Promise<number> {
  const { addIssuerKey, retireOldIssuerKeys, startIssuer } = await issuerModule();
  const args = parseFlags(argv, ISSUER_FLAGS, env);
  if (args.values.help === true) {
    out.write(`${ISSUER_USAGE}\n`);
    return 0;
  }
  const dir = requiredFlag(args, "dir");
  if (args.values.rotate === true) {
    out.write(`${JSON.stringify({ kid: await addIssuerKey(dir) })}\n`);
    return 0;
  }
  if (args.values.retire === true) {
    retireOldIssuerKeys(dir);
    return 0;
  }
  const listen = stringFlag(args, "listen") ?? "127.0.0.1:8443";
  const m = /^(.*):(\d+)$/.exec(listen);
  if (m === null || m[1] === "" || Number(m[2]) > 65535) throw new UsageError(`--listen must be host:port, got ${JSON.stringify(listen)}`);
  const issuer = stringFlag(args, "issuer");
  const running = await startIssuer({ dir, host: m[1]!.replace(/^\[|\]$/g, ""), port: Number(m[2]), issuer: issuer?.replace(/\/+$/, "") });
  out.write(`${JSON.stringify({ issuer: running.issuer, jwksUri: running.jwksUri })}\n`);
  await new Promise<void>((resolve) => {
    process.once("SIGINT", () => resolve());
    process.once("SIGTERM", () => resolve());
  });
  await running.close();
  return 0;
}

export async function runToken(argv: string[], env: NodeJS.ProcessEnv, out: NodeJS.WritableStream): Promise<number> {
  const { signIssuerToken } = await issuerModule();
  // CONDCAST_TTL is the multicast TTL: the token's lifetime comes from the command line only.
  const args = parseFlags(argv, TOKEN_FLAGS, { ...env, CONDCAST_TTL: undefined });
  if (args.values.help === true) {
    out.write(`${TOKEN_USAGE}\n`);
    return 0;
  }
  const scope = requiredFlag(args, "scope").trim().split(/\s+/).join(" ");
  for (const item of scope.split(" ")) {
    if (!/^[!-~]+$/.test(item)) throw new UsageError(`--scope: ${JSON.stringify(item)} is not a scope (printable, no spaces)`);
  }
  const audience = requiredFlag(args, "aud").split(",").map((a) => a.trim()).filter((a) => a.length > 0);
  const token = await signIssuerToken(requiredFlag(args, "dir"), {
    issuer: requiredFlag(args, "issuer").replace(/\/+$/, ""),
    audience: audience.length === 1 ? audience[0]! : audience,
    scope,
    subject: stringFlag(args, "sub"),
    ttlS: intFlag(args, "ttl", 3600, 1, 30 * 86_400),
  });
  out.write(`${token}\n`);
  return 0;
}
