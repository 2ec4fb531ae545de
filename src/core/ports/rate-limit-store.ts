/**
 * RateLimitStore: fixed-window hit counters shared by every instance (per-client limits).
 *
 * Guarantees:
 * - `hit` increments the counter for `key` in the current window and returns the count including this
 *   hit and the milliseconds until the window resets. The first hit of a window starts it.
 * - With Redis, counts are shared across instances; in memory they are per process.
 * - Keys are namespaced by the implementation.
 */
export interface RateLimitStore {
  hit(key: string, windowMs: number): Promise<{ count: number; resetInMs: number }>;
  /**
   * The same as `hit` without a promise, offered by in-process stores only (never by a store that
   * needs I/O). Hot paths use it when present: a promise and its microtask per request are measurable
   * on the cheapest routes.
   */
  hitSync?(key: string, windowMs: number): { count: number; resetInMs: number };
  close(): Promise<void>;
}
