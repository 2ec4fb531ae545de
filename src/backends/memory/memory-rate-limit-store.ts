import type { Clock } from '../../core/ports/clock.js';
import type { RateLimitStore } from '../../core/ports/rate-limit-store.js';
import { checkWindow } from '../port-args.js';

interface Window {
  count: number;
  resetAt: number;
}

const DEFAULT_MAX_KEYS = 100_000;
const SWEEP_EVERY_MS = 60_000;

/**
 * Per-process fixed-window counters. Memory is bounded: expired windows are swept regularly and, when
 * `maxKeys` distinct keys are live at once, the oldest window is dropped. Dropping a live window only
 * forgives that client some hits, which is the safe way to fail for a rate limiter under a key flood.
 */
export class MemoryRateLimitStore implements RateLimitStore {
  /** Insertion order is window start order, because a new window is always re-inserted at the end. */
  readonly #windows = new Map<string, Window>();
  readonly #clock: Clock;
  readonly #maxKeys: number;
  #lastSweep: number;
  #closed = false;

  constructor(clock: Clock, opts: { maxKeys?: number } = {}) {
    const maxKeys = opts.maxKeys ?? DEFAULT_MAX_KEYS;
    if (!Number.isInteger(maxKeys) || maxKeys < 1) throw new RangeError(`maxKeys must be a positive integer, got ${maxKeys}`);
    this.#clock = clock;
    this.#maxKeys = maxKeys;
    this.#lastSweep = clock.now();
  }

  async hit(key: string, windowMs: number): Promise<{ count: number; resetInMs: number }> {
    return this.hitSync(key, windowMs);
  }

  hitSync(key: string, windowMs: number): { count: number; resetInMs: number } {
    if (this.#closed) throw new Error('MemoryRateLimitStore is closed');
    checkWindow(windowMs);
    const now = this.#clock.now();
    if (now - this.#lastSweep >= SWEEP_EVERY_MS) this.#sweep(now);
    let window = this.#windows.get(key);
    if (!window || window.resetAt <= now) {
      this.#windows.delete(key);
      if (this.#windows.size >= this.#maxKeys) this.#makeRoom(now);
      window = { count: 0, resetAt: now + windowMs };
      this.#windows.set(key, window);
    }
    window.count += 1;
    return { count: window.count, resetInMs: window.resetAt - now };
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#windows.clear();
  }

  /** Live keys, for tests and metrics. */
  get size(): number {
    return this.#windows.size;
  }

  #makeRoom(now: number): void {
    this.#sweep(now);
    while (this.#windows.size >= this.#maxKeys) {
      const oldest = this.#windows.keys().next();
      if (oldest.done) return;
      this.#windows.delete(oldest.value);
    }
  }

  #sweep(now: number): void {
    this.#lastSweep = now;
    for (const [key, window] of this.#windows) {
      if (window.resetAt <= now) this.#windows.delete(key);
    }
  }
}
