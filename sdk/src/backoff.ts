/**
 * Timers the SDK schedules through. Injectable so tests can fire a reconnect or a flush when they
 * choose instead of waiting for wall-clock time.
 */
export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemTimers: Timers = {
  setTimeout: (fn, ms) => globalThis.setTimeout(fn, ms),
  clearTimeout: (handle) => globalThis.clearTimeout(handle as ReturnType<typeof globalThis.setTimeout>),
};

export interface BackoffOptions {
  /** Ceiling of the first delay (ms). Default 500. */
  baseMs?: number;
  /** Largest delay (ms), however many attempts failed. Default 30 000. */
  capMs?: number;
  /** A number in [0, 1); Math.random by default (tests pass their own). */
  random?: () => number;
}

/**
 * Exponential backoff with full jitter: the n-th delay is uniform in [0, min(cap, base·2ⁿ)).
 * Full jitter rather than a fixed or "equal" jitter because after a server restart every client
 * reconnects at once; spreading them over the whole window is what keeps the new instance from
 * being hit by a synchronized wave (the AWS Architecture Blog analysis of backoff strategies).
 */
export class Backoff {
  private attempt = 0;
  private readonly baseMs: number;
  private readonly capMs: number;
  private readonly random: () => number;

  constructor(opts: BackoffOptions = {}) {
    this.baseMs = opts.baseMs ?? 500;
    this.capMs = opts.capMs ?? 30_000;
    this.random = opts.random ?? Math.random;
    if (!(this.baseMs > 0) || !(this.capMs >= this.baseMs)) throw new RangeError('backoff needs 0 < baseMs <= capMs');
  }

  /** Failed attempts since the last reset. */
  get attempts(): number {
    return this.attempt;
  }

  /** The delay before the next attempt; each call counts one more failure. */
  next(): number {
    // 2 ** 31 is far past any cap: stop growing the exponent so it never becomes Infinity.
    const ceiling = Math.min(this.capMs, this.baseMs * 2 ** Math.min(this.attempt, 31));
    this.attempt++;
    return Math.floor(this.random() * ceiling);
  }

  /** A success: the next failure starts from the base again. */
  reset(): void {
    this.attempt = 0;
  }
}
