import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Database } from '../../../core/ports/index.js';

/**
 * Per-node hook secrets, derived as HMAC-SHA256(hook key, "<node id>:<version>"). Derived rather than
 * stored hashed because OvenMediaEngine signs its callbacks with the secret (the verifier needs it),
 * and because `streamplane ingest nodes config` must print a ready configuration at any time.
 * Rotating a node's secret bumps its version. The hook key comes from STREAMPLANE_INGEST_HOOK_KEY or,
 * when unset, is generated once and kept in the database (like the token-signing keys).
 */
export class HookSecrets {
  /** Derived secrets by "<node id>:<version>": every callback needs one, and an HMAC costs ~2 % of a callback. */
  private readonly derived = new Map<string, string>();

  private constructor(private readonly key: Buffer) {}

  static async load(db: Database, configured: string | null): Promise<HookSecrets> {
    if (configured) return new HookSecrets(Buffer.from(configured, 'utf8'));
    await db.query('INSERT INTO ingest_settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING', ['hook_key', randomBytes(32).toString('base64url')]);
    const { rows } = await db.query<{ value: string }>('SELECT value FROM ingest_settings WHERE name = $1', ['hook_key']);
    return new HookSecrets(Buffer.from(rows[0]!.value, 'utf8'));
  }

  /** 32 URL-safe characters (192 bits): fits a URL path segment and OME's SecretKey. */
  secretFor(nodeId: string, version: number): string {
    const id = `${nodeId}:${version}`;
    let secret = this.derived.get(id);
    if (secret === undefined) {
      secret = createHmac('sha256', this.key).update(id).digest('base64url').slice(0, 32);
      if (this.derived.size >= 10_000) this.derived.clear();
      this.derived.set(id, secret);
    }
    return secret;
  }

  /** Constant-time check of a secret presented in a callback URL. */
  verify(nodeId: string, version: number, presented: string): boolean {
    const expected = Buffer.from(this.secretFor(nodeId, version));
    const given = Buffer.from(presented);
    return given.length === expected.length && timingSafeEqual(given, expected);
  }
}
