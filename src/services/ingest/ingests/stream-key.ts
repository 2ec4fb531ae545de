import { createHash, randomBytes } from 'node:crypto';

/**
 * Stream keys: `sk_` + 256 random bits in base64url. Only the SHA-256 is stored; lookups go by that
 * hash (an index seek on a value an attacker cannot choose to collide), so no secret-dependent
 * comparison happens on the key itself.
 */
export const STREAM_KEY_PATTERN = /^sk_[A-Za-z0-9_-]{43}$/;

export function newStreamKey(): string {
  return `sk_${randomBytes(32).toString('base64url')}`;
}

export function hashStreamKey(key: string): Buffer {
  return createHash('sha256').update(key).digest();
}
