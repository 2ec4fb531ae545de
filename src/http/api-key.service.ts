import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { notFound } from '../core/errors.js';
import { newId } from '../core/ids.js';
import type { Bus, Clock, Database, Queryable } from '../core/ports/index.js';
import type { OperatorPrincipal } from './auth.js';

/** `spk_<key id>.<secret>`: the id finds the row, the 256-bit secret is compared by hash. */
const KEY_FORMAT = /^spk_([0-9a-hjkmnp-tv-z]{26})\.([A-Za-z0-9_-]{43})$/;
/** How long a verified key is trusted from memory; revocations also clear it at once through the Bus. */
const CACHE_TTL_MS = 5_000;
const LAST_USED_WRITE_EVERY_MS = 60_000;

const sha256 = (s: string) => createHash('sha256').update(s).digest();

export interface ApiKeyView {
  id: string;
  name: string;
  created_at: string;
  revoked_at: string | null;
  last_used_at: string | null;
}
interface ApiKeyRow {
  id: string;
  name: string;
  secret_hash: Uint8Array;
  created_at: Date;
  revoked_at: Date | null;
  last_used_at: Date | null;
}
const view = (r: ApiKeyRow): ApiKeyView => ({
  id: r.id,
  name: r.name,
  created_at: r.created_at.toISOString(),
  revoked_at: r.revoked_at?.toISOString() ?? null,
  last_used_at: r.last_used_at?.toISOString() ?? null,
});

/** Operator API keys: stored as SHA-256 of a high-entropy secret, compared in constant time. */
export class ApiKeyService {
  private readonly adminHash: Buffer | null;
  private readonly cache = new LRUCache<string, { hash: Buffer; revoked: boolean }>({ max: 10_000, ttl: CACHE_TTL_MS });
  private readonly lastUsedWritten = new LRUCache<string, number>({ max: 10_000 });

  constructor(
    private readonly db: Database,
    private readonly bus: Bus,
    private readonly clock: Clock,
    adminKey: string | null,
  ) {
    this.adminHash = adminKey ? sha256(adminKey) : null;
  }

  async create(name: string, tx: Queryable = this.db): Promise<ApiKeyView & { key: string }> {
    const id = newId('ak', this.clock.now()).slice(3);
    const secret = randomBytes(32).toString('base64url');
    const now = new Date(this.clock.now());
    const { rows } = await tx.query<ApiKeyRow>(
      'INSERT INTO api_keys (id, name, secret_hash, created_at) VALUES ($1, $2, $3, $4) RETURNING *',
      [id, name, sha256(secret), now],
    );
    return { ...view(rows[0]!), key: `spk_${id}.${secret}` };
  }

  /** Creates a first key when no key exists and no admin key is configured; returns it, or null. */
  async bootstrap(): Promise<string | null> {
    if (this.adminHash) return null;
    return this.db.transaction(async (tx) => {
      await tx.query(`SELECT pg_advisory_xact_lock(hashtext('streamplane.bootstrap-key:' || current_schema()))`);
      const { rows } = await tx.query<{ n: string }>('SELECT count(*) AS n FROM api_keys');
      if (Number(rows[0]!.n) > 0) return null;
      return (await this.create('bootstrap', tx)).key;
    });
  }

  async list(): Promise<ApiKeyView[]> {
    const { rows } = await this.db.query<ApiKeyRow>('SELECT * FROM api_keys ORDER BY id DESC LIMIT 1000');
    return rows.map(view);
  }

  async revoke(id: string): Promise<ApiKeyView> {
    const now = new Date(this.clock.now());
    const { rows } = await this.db.query<ApiKeyRow>(
      'UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $2) WHERE id = $1 RETURNING *',
      [id, now],
    );
    if (!rows[0]) throw notFound('API key', id);
    this.cache.delete(id);
    await this.bus.publish('api_key.revoked', { key_id: id, at: now.toISOString() });
    return view(rows[0]);
  }

  forget(id: string) {
    this.cache.delete(id);
  }

  /** The OperatorKeyVerifier used by every operator route. */
  verify = async (presented: string): Promise<OperatorPrincipal | null> => {
    const presentedHash = sha256(presented);
    if (this.adminHash && timingSafeEqual(presentedHash, this.adminHash)) return { keyId: 'admin' };
    const m = KEY_FORMAT.exec(presented);
    if (!m) return null;
    const id = m[1]!;
    let entry = this.cache.get(id);
    if (!entry) {
      const { rows } = await this.db.query<Pick<ApiKeyRow, 'secret_hash' | 'revoked_at'>>('SELECT secret_hash, revoked_at FROM api_keys WHERE id = $1', [id]);
      if (!rows[0]) return null;
      entry = { hash: Buffer.from(rows[0].secret_hash), revoked: rows[0].revoked_at !== null };
      this.cache.set(id, entry);
    }
    if (entry.revoked || !timingSafeEqual(sha256(m[2]!), entry.hash)) return null;
    this.touchLastUsed(id);
    return { keyId: id };
  };

  /** Records use at most once a minute per key, off the request path. */
  private touchLastUsed(id: string) {
    const now = this.clock.now();
    if (now - (this.lastUsedWritten.get(id) ?? 0) < LAST_USED_WRITE_EVERY_MS) return;
    this.lastUsedWritten.set(id, now);
    this.db.query('UPDATE api_keys SET last_used_at = $2 WHERE id = $1', [id, new Date(now)]).catch(() => {});
  }
}
