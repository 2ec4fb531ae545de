import { errors as joseErrors, jwtVerify, type JWTPayload } from 'jose';
import type { Registry } from 'prom-client';
import { hotCounter } from '../metrics.js';
import type { Clock } from '../../core/ports/index.js';
import type { RevocationRegistry } from './revocation.registry.js';
import type { SigningKeyRing } from './signing-key.ring.js';

export const SCOPES = ['view', 'chat', 'moderate', 'publish_captions'] as const;
export type Scope = (typeof SCOPES)[number];
/** RFC 9068 media type of JWT access tokens; checked on verify so other JWTs signed by us cannot pass. */
export const ACCESS_TOKEN_TYP = 'at+jwt';

export type ValidationOutcome = 'valid' | 'expired' | 'revoked' | 'session_ended' | 'bad_signature' | 'wrong_audience' | 'wrong_issuer' | 'unknown_key' | 'malformed' | 'unsupported_algorithm' | 'not_yet_valid' | 'wrong_type';

export interface ViewerClaims {
  iss: string;
  aud: string;
  sub: string;
  sid: string;
  scope: string;
  fid: string;
  jti: string;
  iat: number;
  exp: number;
}
export type Validation = ValidClaims | { valid: false; reason: Exclude<ValidationOutcome, 'valid'> };
/** A valid answer; the cache hands back the same object for every hit of a token, so treat it as read-only. */
export type ValidClaims = { readonly valid: true; readonly claims: ViewerClaims };

export interface ViewerTokenVerifierOptions {
  issuer: string;
  audience: string;
  /** Verified tokens kept in memory until their exp (0 = no cache). */
  cacheMaxEntries: number;
}

/**
 * Verifies viewer access tokens for every service of the process (session's validate-token, realtime's
 * sockets, telemetry): the ES256 signature against the shared key ring, then revocation against the
 * in-memory registry. Minting stays with the session service.
 */
export class ViewerTokenVerifier {
  /**
   * Verified tokens until their exp: an ES256 check costs ~70 µs, and players present the same token
   * many times. Only good signatures are cached; revocation is still checked on every call. A plain
   * Map evicting in insertion order, not an LRU: an LRU reorders on every hit, which cost ~3 µs of the
   * validate-token route's ~50; evicting a token still in use costs one more signature check.
   */
  private readonly verified: Map<string, ValidClaims> | null;
  private readonly outcomes: (outcome: ValidationOutcome) => { inc(): void };
  /** The counter of the outcome nearly every call has, looked up once. */
  private readonly validCount: { inc(): void };

  constructor(
    private readonly ring: SigningKeyRing,
    readonly revocations: RevocationRegistry,
    private readonly clock: Clock,
    registry: Registry,
    private readonly opts: ViewerTokenVerifierOptions,
  ) {
    this.verified = opts.cacheMaxEntries > 0 ? new Map() : null;
    const counter = hotCounter({ name: 'streamplane_token_validations_total', help: 'Viewer token validations by outcome.', labelNames: ['outcome'] as const, registers: [registry] });
    const children = new Map<ValidationOutcome, { inc(): void }>();
    this.outcomes = (outcome) => {
      let child = children.get(outcome);
      if (!child) children.set(outcome, (child = counter.child({ outcome })));
      return child;
    };
    this.validCount = this.outcomes('valid');
  }

  /**
   * Never throws for a bad token, says why it is not valid. A token verified before is answered
   * synchronously from memory (no promise on the hot path); only a first sighting pays for the
   * signature check.
   */
  validate(token: string): Validation | Promise<Validation> {
    const now = this.clock.now();
    const cached = this.verified?.get(token);
    if (cached) return this.counted(this.usable(token, cached, now));
    return this.verify(token, now).then((v) => {
      if (!v.valid) return this.counted(v);
      // No TTL bookkeeping in the cache (it costs on every get): exp is checked on each hit instead.
      if (this.verified) {
        this.verified.set(token, v);
        if (this.verified.size > this.opts.cacheMaxEntries) this.verified.delete(this.verified.keys().next().value!);
      }
      return this.counted(this.usable(token, v, now));
    });
  }

  /** Whether claims seen earlier (a connected socket's) have been revoked or their session ended since. */
  stillUsable(claims: ViewerClaims): Validation {
    if (claims.exp * 1000 <= this.clock.now()) return { valid: false, reason: 'expired' };
    const revoked = this.revocations.check(claims);
    return revoked ? { valid: false, reason: revoked } : { valid: true, claims };
  }

  /** The verified answer itself while usable: a cache hit allocates nothing. */
  private usable(token: string, v: ValidClaims, now: number): Validation {
    if (v.claims.exp * 1000 <= now) {
      this.verified?.delete(token);
      return { valid: false, reason: 'expired' };
    }
    const revoked = this.revocations.check(v.claims);
    return revoked ? { valid: false, reason: revoked } : v;
  }

  private counted(v: Validation): Validation {
    (v.valid ? this.validCount : this.outcomes(v.reason)).inc();
    return v;
  }

  private async verify(token: string, now: number): Promise<Validation> {
    try {
      const { payload } = await jwtVerify(token, async (header) => {
        const key = await this.ring.verificationKey(header.kid);
        if (!key) throw new UnknownKey();
        return key;
      }, {
        algorithms: ['ES256'],
        issuer: this.opts.issuer,
        audience: this.opts.audience,
        typ: ACCESS_TOKEN_TYP,
        currentDate: new Date(now),
        requiredClaims: ['exp', 'iat', 'sub', 'jti'],
      });
      const claims = asViewerClaims(payload);
      return claims ? { valid: true, claims } : { valid: false, reason: 'malformed' };
    } catch (err) {
      return { valid: false, reason: reasonOf(err) };
    }
  }
}

class UnknownKey extends Error {}

function reasonOf(err: unknown): Exclude<ValidationOutcome, 'valid'> {
  if (err instanceof UnknownKey) return 'unknown_key';
  if (err instanceof joseErrors.JWTExpired) return 'expired';
  if (err instanceof joseErrors.JWTClaimValidationFailed) {
    if (err.claim === 'aud') return 'wrong_audience';
    if (err.claim === 'iss') return 'wrong_issuer';
    if (err.claim === 'nbf' || err.claim === 'iat') return 'not_yet_valid';
    if (err.claim === 'typ') return 'wrong_type';
    return 'malformed';
  }
  if (err instanceof joseErrors.JWSSignatureVerificationFailed) return 'bad_signature';
  if (err instanceof joseErrors.JOSEAlgNotAllowed || err instanceof joseErrors.JOSENotSupported) return 'unsupported_algorithm';
  return 'malformed';
}

function asViewerClaims(p: JWTPayload): ViewerClaims | null {
  const { iss, aud, sub, sid, scope, fid, jti, iat, exp } = p as Record<string, unknown>;
  if (typeof sid !== 'string' || typeof scope !== 'string' || typeof fid !== 'string' || typeof sub !== 'string' || typeof jti !== 'string') return null;
  if (typeof iat !== 'number' || typeof exp !== 'number' || typeof iss !== 'string' || typeof aud !== 'string') return null;
  return { iss, aud, sub, sid, scope, fid, jti, iat, exp };
}

export const hasScope = (claims: ViewerClaims, scope: Scope) => claims.scope.split(' ').includes(scope);
