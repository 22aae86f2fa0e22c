// Checks a bearer token (WLCG JWT profile §4.2) with jose: the issuer is one of the trusted ones, the
// signature is asymmetric and made by a key of the issuer's JWKS (chosen by kid; an unknown kid
// refetches the set), aud names this instance, exp is present and not passed, nbf has come.
import { createRemoteJWKSet, decodeProtectedHeader, decodeJwt, errors, jwtVerify, type JWTPayload } from "jose";
import type { AuthConfig, TrustedIssuer } from "./config.js";
import { parseCapabilities, type Capability } from "./scopes.js";

/** Asymmetric JWS algorithms only: an HMAC key is a shared secret, which a JWKS must not publish. */
export const ASYMMETRIC_ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA", "Ed25519"] as const;

/** A token that was checked: who it names, and what it grants at this instance. */
export interface Grant {
  readonly issuer: string;
  readonly subject: string | undefined;
  readonly capabilities: readonly Capability[];
}

/** Why a token is refused; becomes a 401 with `WWW-Authenticate: Bearer error="invalid_token"`. */
export class InvalidToken extends Error {}

export class TokenVerifier {
  private readonly keySets = new Map<string, ReturnType<typeof createRemoteJWKSet>>();
  private readonly byIssuer = new Map<string, TrustedIssuer>();

  constructor(private readonly config: AuthConfig) {
    for (const issuer of config.issuers) {
      this.byIssuer.set(issuer.issuer, issuer);
      this.keySets.set(issuer.issuer, createRemoteJWKSet(new URL(issuer.jwksUri), { cooldownDuration: config.jwksCooldownMs, cacheMaxAge: config.jwksMaxAgeMs, timeoutDuration: 5000 }));
    }
  }

  /** The grant of a compact JWS; throws InvalidToken with the reason when it does not hold. */
  async verify(token: string): Promise<Grant> {
    let alg: string | undefined;
    let claimedIssuer: string | undefined;
    try {
      alg = decodeProtectedHeader(token).alg;
      claimedIssuer = decodeJwt(token).iss;
    } catch {
      throw new InvalidToken("the token is not a JWT (three base64url parts, JSON header and claims)");
    }
    if (alg === undefined || !(ASYMMETRIC_ALGORITHMS as readonly string[]).includes(alg)) {
      throw new InvalidToken(alg?.startsWith("HS") ? `HMAC-signed tokens (${alg}) are refused: asymmetric signatures only` : `signature algorithm ${JSON.stringify(alg ?? "none")} is refused: asymmetric signatures only`);
    }
    const issuer = claimedIssuer === undefined ? undefined : this.byIssuer.get(claimedIssuer);
    if (issuer === undefined) throw new InvalidToken(claimedIssuer === undefined ? "the token has no iss claim" : `issuer ${JSON.stringify(claimedIssuer)} is not trusted here`);
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.keySets.get(issuer.issuer)!, {
        issuer: issuer.issuer,
        audience: [...issuer.audience],
        algorithms: [...ASYMMETRIC_ALGORITHMS],
        clockTolerance: this.config.clockToleranceS,
        requiredClaims: ["exp", "aud"],
      }));
    } catch (error) {
      throw new InvalidToken(reason(error));
    }
    return { issuer: issuer.issuer, subject: payload.sub, capabilities: parseCapabilities(payload.scope, issuer.prefix) };
  }
}

/** jose's failure as a sentence for the client (never the token itself). */
function reason(error: unknown): string {
  if (error instanceof errors.JWTExpired) return "the token has expired (exp)";
  if (error instanceof errors.JWTClaimValidationFailed) {
    switch (error.claim) {
      case "nbf":
        return "the token is not yet valid (nbf)";
      case "aud":
        return "the token's audience (aud) does not name this service";
      case "iss":
        return "the token's issuer (iss) is not the expected one";
      default:
        return `the token's ${error.claim} claim fails: ${error.reason}`;
    }
  }
  if (error instanceof errors.JWSSignatureVerificationFailed) return "the token's signature does not verify";
  if (error instanceof errors.JWKSNoMatchingKey) return "no key of the issuer's JWKS matches the token's kid and alg";
  if (error instanceof errors.JWKSMultipleMatchingKeys) return "several keys of the issuer's JWKS match the token (it names no kid)";
  if (error instanceof errors.JOSEAlgNotAllowed) return "the token's signature algorithm is refused: asymmetric signatures only";
  if (error instanceof errors.JWKSTimeout) return "the issuer's JWKS did not answer in time";
  if (error instanceof errors.JOSEError) return `the token is refused: ${error.message}`;
  return `the issuer's keys could not be fetched: ${(error as Error).message}`;
}
