// Where authorisation meets the routes: the bearer token of a request, checked once and kept on the
// request, and `requireScope(action, pathOf)`, an onRequest hook: it runs before fastify reads the
// body, so a refused write stores nothing. 401 (no token, or a bad one) carries WWW-Authenticate
// (RFC 6750 §3); 403 names the scope that is missing.
import type { FastifyReply, FastifyRequest } from "fastify";
import { errorBody } from "../http/schemas.js";
import type { AuthConfig } from "./config.js";
import { grants, grantsAny, scopeName, type StorageAction } from "./scopes.js";
import { InvalidToken, TokenVerifier, type Grant } from "./verifier.js";

const REALM = "condcast";

/** What a request needs: an action on a path, or (path undefined) the action somewhere. */
export interface Requirement {
  readonly action: StorageAction;
  readonly path?: string | undefined;
  /** For writes naming no path: storage.create or storage.modify anywhere will do. */
  readonly anyWrite?: boolean | undefined;
}

export type AuthHook = (request: FastifyRequest, reply: FastifyReply) => Promise<FastifyReply | undefined>;

const grantKey = Symbol("condcast.grant");
type WithGrant = FastifyRequest & { [grantKey]?: Promise<Grant> };

function quoted(text: string): string {
  return `"${text.replace(/["\\]/g, "'")}"`;
}

export class Authoriser {
  private readonly verifier: TokenVerifier;

  constructor(readonly config: AuthConfig) {
    this.verifier = new TokenVerifier(config);
  }

  /** The request's checked token (verified once per request); throws InvalidToken. */
  grantOf(request: FastifyRequest): Promise<Grant> {
    const r = request as WithGrant;
    r[grantKey] ??= this.verifyHeader(request.headers.authorization);
    return r[grantKey];
  }

  private async verifyHeader(header: string | undefined): Promise<Grant> {
    if (header === undefined || header.trim() === "") throw new MissingToken("this request needs a bearer token (Authorization: Bearer <token>)");
    const m = /^Bearer +([A-Za-z0-9._~+/-]+=*) *$/i.exec(header);
    if (m === null) throw new InvalidToken("the Authorization header is not \"Bearer <token>\"");
    return this.verifier.verify(m[1]!);
  }

  /**
   * Checks `needed` for a request; answers 401 or 403 and returns the reply when it does not hold,
   * undefined when the request may go on.
   */
  async check(request: FastifyRequest, reply: FastifyReply, needed: Requirement): Promise<FastifyReply | undefined> {
    let grant: Grant;
    try {
      grant = await this.grantOf(request);
    } catch (error) {
      if (!(error instanceof InvalidToken)) throw error;
      const challenge = error instanceof MissingToken ? `Bearer realm="${REALM}"` : `Bearer realm="${REALM}", error="invalid_token", error_description=${quoted(error.message)}`;
      return reply.code(401).header("WWW-Authenticate", challenge).send(errorBody(401, error.message));
    }
    const allowed =
      needed.path !== undefined
        ? grants(grant.capabilities, needed.action, needed.path)
        : needed.anyWrite === true
          ? grantsAny(grant.capabilities, "create")
          : grantsAny(grant.capabilities, needed.action);
    if (allowed) return undefined;
    const missing = needed.path !== undefined ? scopeName(needed.action, needed.path) : needed.anyWrite === true ? "storage.create or storage.modify" : `storage.${needed.action}`;
    const what = needed.path !== undefined ? `scope ${missing}` : `a ${missing} scope`;
    request.log.info({ issuer: grant.issuer, sub: grant.subject, missing }, "request refused: insufficient scope");
    return reply
      .code(403)
      .header("WWW-Authenticate", `Bearer realm="${REALM}", error="insufficient_scope", scope=${quoted(missing)}`)
      .send(errorBody(403, `the token lacks ${what} (from a trusted issuer whose prefix holds the path)`));
  }

  /** A route hook: `pathOf` gives the path the request acts on (undefined: the action anywhere). */
  requireScope(action: StorageAction, pathOf?: (request: FastifyRequest) => string | undefined): AuthHook {
    return async (request, reply) => this.check(request, reply, { action, path: pathOf?.(request) });
  }
}

/** No Authorization header at all: RFC 6750 §3.1 says the challenge then carries no error code. */
export class MissingToken extends InvalidToken {}
