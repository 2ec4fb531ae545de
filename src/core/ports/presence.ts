/**
 * Presence: sets of members that expire unless refreshed (viewer heartbeats, connection presence).
 *
 * Guarantees:
 * - A member counts from its `touch` until `ttlMs` after its latest `touch` (measured on the Clock).
 *   Counting is by member id, so duplicate or repeated heartbeats never inflate a count.
 * - `touch` with `limit` is atomic across instances: a member not yet present is admitted only while
 *   the live count is below `limit`; members already present are always refreshed.
 * - Counts are exact for the instant they are read; expired members are never counted.
 * - Keys are namespaced by the implementation (a per-test or per-deployment prefix).
 */
export interface TouchResult {
  /** false only when `limit` refused a new member. */
  admitted: boolean;
  /** true when the member was not present (never seen, or expired) before this touch. */
  joined: boolean;
  /** live members after this touch. */
  count: number;
}

export interface Presence {
  touch(set: string, member: string, ttlMs: number, opts?: { limit?: number }): Promise<TouchResult>;
  leave(set: string, member: string): Promise<void>;
  count(set: string): Promise<number>;
  ping(): Promise<void>;
  close(): Promise<void>;
}
