import { createHash, randomBytes } from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import { SignJWT } from 'jose';
import { AppError, conflict, notFound, unauthorized } from '../../../core/errors.js';
import { newId } from '../../../core/ids.js';
import type { Clock, Database, Queryable } from '../../../core/ports/index.js';
import type { RevocationRegistry } from '../../../http/viewer-auth/revocation.registry.js';
import type { SigningKeyRing } from '../../../http/viewer-auth/signing-key.ring.js';
import { ACCESS_TOKEN_TYP, type Scope, type Validation, type ViewerTokenVerifier } from '../../../http/viewer-auth/viewer-token.verifier.js';
import type { SessionMetrics } from '../session.metrics.js';

export interface TokenPair {
  access_token: string;
  refresh_token: string;
  token_type: 'Bearer';
  expires_in: number;
  refresh_expires_in: number;
  scope: string;
}

interface FamilyRow {
  id: string;
  session_id: string;
  viewer_id: string;
  scopes: Scope[];
  access_ttl_seconds: number;
  revoked_at: Date | null;
}

const hashRefresh = (t: string) => createHash('sha256').update(t).digest();
const REFRESH_FORMAT = /^rt_[A-Za-z0-9_-]{43}$/;

export interface TokenServiceDeps {
  db: Database;
  clock: Clock;
  ring: SigningKeyRing;
  revocations: RevocationRegistry;
  verifier: ViewerTokenVerifier;
  metrics: SessionMetrics;
  log: FastifyBaseLogger;
  cfg: { issuer: string; audience: string; accessTtlSeconds: number; accessMaxTtlSeconds: number; refreshTtlSeconds: number };
}

/**
 * Viewer tokens: ES256 JWT access tokens that anyone can verify with our JWKS, and opaque single-use
 * refresh tokens (stored hashed) rotated on every use, with reuse detection per family (RFC 9700).
 */
export class TokenService {
  constructor(private readonly d: TokenServiceDeps) {}

  async mint(req: { session_id: string; viewer_id: string; scopes: Scope[]; ttl_seconds?: number }): Promise<TokenPair> {
    const ttl = req.ttl_seconds ?? this.d.cfg.accessTtlSeconds;
    if (ttl > this.d.cfg.accessMaxTtlSeconds) {
      throw new AppError(400, 'ttl_too_long', `ttl_seconds ${ttl} exceeds the limit of ${this.d.cfg.accessMaxTtlSeconds} (STREAMPLANE_ACCESS_TOKEN_MAX_TTL_SECONDS).`);
    }
    const scopes = [...new Set(req.scopes)];
    const now = this.d.clock.now();
    const { family, refresh } = await this.d.db.transaction(async (tx) => {
      const { rows } = await tx.query<{ status: string }>('SELECT status FROM sessions WHERE id = $1 FOR SHARE', [req.session_id]);
      if (!rows[0]) throw notFound('Session', req.session_id);
      if (rows[0].status === 'ended') throw conflict('session_ended', `Session ${req.session_id} has ended; no new tokens are issued for it.`);
      const family: FamilyRow = { id: newId('fam', now).slice(4), session_id: req.session_id, viewer_id: req.viewer_id, scopes, access_ttl_seconds: ttl, revoked_at: null };
      await tx.query('INSERT INTO token_families (id, session_id, viewer_id, scopes, access_ttl_seconds, created_at) VALUES ($1, $2, $3, $4, $5, $6)', [
        family.id, family.session_id, family.viewer_id, JSON.stringify(scopes), ttl, new Date(now),
      ]);
      return { family, refresh: await this.insertRefresh(tx, family.id, now) };
    });
    return this.pair(family, refresh, now);
  }

  /**
   * Exchanges a refresh token for a new pair. The conditional UPDATE makes concurrent refreshes of one
   * token race on the row: exactly one sees `used_at IS NULL`. Presenting a used token is treated as
   * theft: the family is revoked and every token of it stops validating.
   */
  async refresh(refreshToken: string): Promise<TokenPair> {
    if (!REFRESH_FORMAT.test(refreshToken)) return this.refused('malformed', 'invalid_refresh_token', 'The refresh token is not one we issued.');
    const hash = hashRefresh(refreshToken);
    const now = this.d.clock.now();
    const outcome = await this.d.db.transaction(async (tx) => {
      const claimed = await tx.query<FamilyRow & { expires_at: Date }>(
        `UPDATE refresh_tokens r SET used_at = $2 FROM token_families f
         WHERE r.token_hash = $1 AND r.used_at IS NULL AND r.expires_at > $2 AND f.id = r.family_id
         RETURNING f.id, f.session_id, f.viewer_id, f.scopes, f.access_ttl_seconds, f.revoked_at`,
        [hash, new Date(now)],
      );
      const family = claimed.rows[0];
      if (family) {
        if (family.revoked_at) return { kind: 'revoked' as const };
        if (this.d.revocations.isEnded(family.session_id)) return { kind: 'ended' as const };
        const { rows } = await tx.query<{ status: string }>('SELECT status FROM sessions WHERE id = $1', [family.session_id]);
        if (rows[0]?.status === 'ended') return { kind: 'ended' as const };
        return { kind: 'ok' as const, family, refresh: await this.insertRefresh(tx, family.id, now) };
      }
      const { rows } = await tx.query<{ family_id: string; used_at: Date | null; session_id: string; viewer_id: string }>(
        `SELECT r.family_id, r.used_at, f.session_id, f.viewer_id FROM refresh_tokens r JOIN token_families f ON f.id = r.family_id WHERE r.token_hash = $1`,
        [hash],
      );
      const row = rows[0];
      if (!row) return { kind: 'unknown' as const };
      if (!row.used_at) return { kind: 'expired' as const };
      await tx.query('UPDATE token_families SET revoked_at = COALESCE(revoked_at, $2) WHERE id = $1', [row.family_id, new Date(now)]);
      return { kind: 'reused' as const, row };
    });
    switch (outcome.kind) {
      case 'ok':
        this.d.metrics.refreshes.inc({ outcome: 'ok' });
        return this.pair(outcome.family, outcome.refresh, now);
      case 'reused':
        this.d.log.warn({ session_id: outcome.row.session_id, user_id: outcome.row.viewer_id }, 'refresh token reused: family revoked');
        await this.d.revocations.revoke('family', outcome.row.family_id, { session_id: outcome.row.session_id, viewer_id: outcome.row.viewer_id });
        return this.refused('reused', 'refresh_token_reused', 'This refresh token was already used; every token of its family is now revoked.');
      case 'revoked':
        return this.refused('revoked', 'refresh_token_revoked', 'The refresh token was revoked.');
      case 'ended':
        return this.refused('session_ended', 'session_ended', 'The session has ended.');
      case 'expired':
        return this.refused('expired', 'refresh_token_expired', 'The refresh token has expired.');
      default:
        return this.refused('unknown', 'invalid_refresh_token', 'The refresh token is not one we issued.');
    }
  }

  /** Introspection (RFC 7662 style): never throws for a bad token, says why it is not valid. */
  validate(token: string): Validation | Promise<Validation> {
    return this.d.verifier.validate(token);
  }

  /** Revokes every token of a viewer in a session (issued up to now), or one access token by its jti. */
  async revoke(target: { session_id: string; viewer_id: string } | { token_id: string }): Promise<void> {
    if ('token_id' in target) {
      await this.d.revocations.revoke('jti', target.token_id, { session_id: null, viewer_id: null });
      return;
    }
    await this.d.db.query('UPDATE token_families SET revoked_at = COALESCE(revoked_at, $3) WHERE session_id = $1 AND viewer_id = $2', [
      target.session_id, target.viewer_id, new Date(this.d.clock.now()),
    ]);
    await this.d.revocations.revoke('viewer', `${target.session_id}:${target.viewer_id}`, target);
  }

  private async insertRefresh(tx: Queryable, familyId: string, now: number): Promise<string> {
    const token = `rt_${randomBytes(32).toString('base64url')}`;
    await tx.query('INSERT INTO refresh_tokens (token_hash, family_id, created_at, expires_at) VALUES ($1, $2, $3, $4)', [
      hashRefresh(token), familyId, new Date(now), new Date(now + this.d.cfg.refreshTtlSeconds * 1000),
    ]);
    return token;
  }

  private async pair(family: FamilyRow, refresh: string, now: number): Promise<TokenPair> {
    const { kid, key } = this.d.ring.signing();
    const iat = Math.floor(now / 1000);
    const scope = family.scopes.join(' ');
    const access = await new SignJWT({ sid: family.session_id, scope, fid: family.id })
      .setProtectedHeader({ alg: 'ES256', kid, typ: ACCESS_TOKEN_TYP })
      .setIssuer(this.d.cfg.issuer)
      .setAudience(this.d.cfg.audience)
      .setSubject(family.viewer_id)
      .setJti(newId('at', now).slice(3))
      .setIssuedAt(iat)
      .setExpirationTime(iat + family.access_ttl_seconds)
      .sign(key);
    this.d.metrics.tokensMinted.inc();
    return { access_token: access, refresh_token: refresh, token_type: 'Bearer', expires_in: family.access_ttl_seconds, refresh_expires_in: this.d.cfg.refreshTtlSeconds, scope };
  }

  private refused(outcome: string, code: string, detail: string): never {
    this.d.metrics.refreshes.inc({ outcome });
    throw unauthorized(code, detail);
  }
}
