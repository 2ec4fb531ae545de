import { randomBytes } from 'node:crypto';

/** Branded ids: a SessionId cannot be passed where an ApiKeyId is expected. */
declare const brand: unique symbol;
export type Brand<T, B extends string> = T & { readonly [brand]: B };
export type SessionId = Brand<string, 'SessionId'>;
export type ApiKeyId = Brand<string, 'ApiKeyId'>;
export type ViewerId = Brand<string, 'ViewerId'>;

const CROCKFORD = '0123456789abcdefghjkmnpqrstvwxyz';

/**
 * `<prefix>_<26 chars>`: 48 bits of time then 80 random bits in Crockford base32 (ULID layout,
 * lower case), so ids sort by creation time and cursor pagination can use them directly.
 */
export function newId(prefix: string, nowMs: number): string {
  let out = '';
  let t = nowMs;
  for (let i = 0; i < 10; i++) {
    out = CROCKFORD[t % 32] + out;
    t = Math.floor(t / 32);
  }
  const rnd = randomBytes(16);
  for (let i = 0; i < 16; i++) out += CROCKFORD[rnd[i]! % 32];
  return `${prefix}_${out}`;
}

export const ID_PATTERN = (prefix: string) => `^${prefix}_[0-9a-hjkmnp-tv-z]{26}$`;

/**
 * The creation time (ms) carried by the first 10 characters of an id's ULID part (`rest` is the id
 * without its prefix), or null when they are not Crockford base32.
 */
export function idTimeMs(rest: string): number | null {
  let t = 0;
  for (let i = 0; i < 10; i++) {
    const v = CROCKFORD.indexOf(rest[i] ?? '');
    if (v < 0) return null;
    t = t * 32 + v;
  }
  return t;
}
