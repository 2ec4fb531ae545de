import { createPrivateKey, createPublicKey, generateKeyPairSync, type JsonWebKey, type KeyObject } from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import { newId } from '../../core/ids.js';
import type { Bus, Clock, Database } from '../../core/ports/index.js';

interface RingKey {
  kid: string;
  privateKey: KeyObject;
  publicKey: KeyObject;
  publicJwk: JsonWebKey;
  createdAt: number;
  expiresAt: number | null;
}
interface SigningKeyRow {
  kid: string;
  private_jwk: JsonWebKey;
  public_jwk: JsonWebKey;
  created_at: Date;
  expires_at: Date | null;
}

const RELOAD_AT_MOST_EVERY_MS = 1_000;

/**
 * ES256 signing keys shared by every instance through the database. The newest key signs; a key
 * replaced by rotation keeps verifying (and stays in the JWKS) until every token it signed has expired.
 * The private keys are stored as JWK in the database: protect it as you protect the signing service.
 */
export class SigningKeyRing {
  private keys = new Map<string, RingKey>();
  private current: RingKey | null = null;
  private lastReload = 0;

  constructor(
    private readonly db: Database,
    private readonly bus: Bus,
    private readonly clock: Clock,
    private readonly log: FastifyBaseLogger,
    private readonly opts: { rotationSeconds: number; maxTokenLifetimeSeconds: number },
  ) {}

  async reload(): Promise<void> {
    this.lastReload = this.clock.now();
    const { rows } = await this.db.query<SigningKeyRow>(
      'SELECT kid, private_jwk, public_jwk, created_at, expires_at FROM signing_keys WHERE expires_at IS NULL OR expires_at > $1 ORDER BY created_at',
      [new Date(this.clock.now())],
    );
    const keys = new Map<string, RingKey>();
    for (const r of rows) {
      keys.set(r.kid, {
        kid: r.kid,
        privateKey: createPrivateKey({ key: r.private_jwk, format: 'jwk' }),
        publicKey: createPublicKey({ key: r.public_jwk, format: 'jwk' }),
        publicJwk: r.public_jwk,
        createdAt: r.created_at.getTime(),
        expiresAt: r.expires_at?.getTime() ?? null,
      });
    }
    this.keys = keys;
    this.current = [...keys.values()].filter((k) => k.expiresAt === null).at(-1) ?? null;
  }

  /** Loads the ring and rotates when there is no signing key or it is older than the rotation age. */
  async ensureCurrent(): Promise<void> {
    await this.reload();
    if (!this.current || this.clock.now() - this.current.createdAt >= this.opts.rotationSeconds * 1000) await this.rotate(false);
  }

  /**
   * Creates a new signing key and schedules the old one's expiry. Instances racing here take turns on
   * an advisory lock, and only the first rotates unless `force`.
   */
  async rotate(force: boolean): Promise<string> {
    const now = this.clock.now();
    const kid = await this.db.transaction(async (tx) => {
      await tx.query(`SELECT pg_advisory_xact_lock(hashtext('streamplane.signing-keys:' || current_schema()))`);
      const { rows } = await tx.query<{ kid: string; created_at: Date }>('SELECT kid, created_at FROM signing_keys WHERE expires_at IS NULL ORDER BY created_at DESC LIMIT 1');
      const newest = rows[0];
      if (!force && newest && now - newest.created_at.getTime() < this.opts.rotationSeconds * 1000) return newest.kid;
      const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const kid = newId('key', now).slice(4);
      const expiresAt = new Date(now + this.opts.maxTokenLifetimeSeconds * 1000 + 60_000);
      await tx.query('UPDATE signing_keys SET retired_at = $1, expires_at = $2 WHERE expires_at IS NULL', [new Date(now), expiresAt]);
      await tx.query('INSERT INTO signing_keys (kid, alg, private_jwk, public_jwk, created_at) VALUES ($1, $2, $3, $4, $5)', [
        kid, 'ES256', JSON.stringify(privateKey.export({ format: 'jwk' })), JSON.stringify(publicKey.export({ format: 'jwk' })), new Date(now),
      ]);
      return kid;
    });
    await this.reload();
    if (force || this.current?.kid === kid) {
      this.log.info({ kid }, 'signing key rotated');
      await this.bus.publish('signing_key.rotated', { kid, at: new Date(now).toISOString() }).catch(() => {});
    }
    return kid;
  }

  signing(): { kid: string; key: KeyObject } {
    if (!this.current) throw new Error('signing key ring not loaded');
    return { kid: this.current.kid, key: this.current.privateKey };
  }

  /** The public key for `kid`; an unknown kid triggers at most one reload per second (a key made by another instance). */
  async verificationKey(kid: string | undefined): Promise<KeyObject | null> {
    if (!kid) return null;
    const k = this.keys.get(kid);
    if (k && (k.expiresAt === null || k.expiresAt > this.clock.now())) return k.publicKey;
    if (!k && this.clock.now() - this.lastReload >= RELOAD_AT_MOST_EVERY_MS) {
      await this.reload();
      return this.keys.get(kid)?.publicKey ?? null;
    }
    return null;
  }

  jwks() {
    const now = this.clock.now();
    return {
      keys: [...this.keys.values()]
        .filter((k) => k.expiresAt === null || k.expiresAt > now)
        .map((k) => ({ kty: 'EC', crv: 'P-256', x: k.publicJwk.x!, y: k.publicJwk.y!, kid: k.kid, alg: 'ES256', use: 'sig' })),
    };
  }
}
