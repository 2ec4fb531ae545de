import type { Clock } from '../../core/ports/clock.js';
import type { Presence, TouchResult } from '../../core/ports/presence.js';
import { checkTouchArgs } from '../port-args.js';

/** How often (in Clock time) a touch also sweeps sets nobody reads any more, so they cannot pile up. */
const SWEEP_EVERY_MS = 60_000;

/**
 * Per-process Presence. Expiry is computed from the Clock on every access instead of with timers, so
 * a ManualClock drives it exactly and an idle process does no work.
 */
export class MemoryPresence implements Presence {
  /** set -> member -> expiry time (ms on the Clock); a member is live while expiry > now. */
  readonly #sets = new Map<string, Map<string, number>>();
  /**
   * Per set, no member expires before this time (a lower bound, kept as members are touched): until
   * then the set needs no scan. Scanning on every touch made refreshing n members O(n²), which
   * stalled the event loop for a large chat room.
   */
  readonly #noExpiryBefore = new Map<string, number>();
  readonly #clock: Clock;
  #lastSweep: number;
  #closed = false;

  constructor(clock: Clock) {
    this.#clock = clock;
    this.#lastSweep = clock.now();
  }

  async touch(set: string, member: string, ttlMs: number, opts: { limit?: number } = {}): Promise<TouchResult> {
    this.#checkOpen();
    checkTouchArgs(ttlMs, opts.limit);
    const now = this.#clock.now();
    this.#maybeSweep(now);
    let members = this.#live(set, now);
    const present = members?.has(member) ?? false;
    const count = members?.size ?? 0;
    if (!present && opts.limit !== undefined && count >= opts.limit) {
      return { admitted: false, joined: false, count };
    }
    if (!members) {
      members = new Map();
      this.#sets.set(set, members);
    }
    members.set(member, now + ttlMs);
    this.#noExpiryBefore.set(set, Math.min(this.#noExpiryBefore.get(set) ?? Infinity, now + ttlMs));
    return { admitted: true, joined: !present, count: members.size };
  }

  async leave(set: string, member: string): Promise<void> {
    this.#checkOpen();
    const members = this.#sets.get(set);
    if (!members) return;
    members.delete(member);
    if (members.size === 0) {
      this.#sets.delete(set);
      this.#noExpiryBefore.delete(set);
    }
  }

  async count(set: string): Promise<number> {
    this.#checkOpen();
    return this.#live(set, this.#clock.now())?.size ?? 0;
  }

  async ping(): Promise<void> {
    this.#checkOpen();
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#sets.clear();
    this.#noExpiryBefore.clear();
  }

  /** The set with its expired members removed (undefined when nothing is left). */
  #live(set: string, now: number): Map<string, number> | undefined {
    const members = this.#sets.get(set);
    if (!members) return undefined;
    if (now < (this.#noExpiryBefore.get(set) ?? -Infinity)) return members;
    let next = Infinity;
    for (const [member, expiresAt] of members) {
      if (expiresAt <= now) members.delete(member);
      else if (expiresAt < next) next = expiresAt;
    }
    if (members.size > 0) {
      this.#noExpiryBefore.set(set, next);
      return members;
    }
    this.#sets.delete(set);
    this.#noExpiryBefore.delete(set);
    return undefined;
  }

  #maybeSweep(now: number): void {
    if (now - this.#lastSweep < SWEEP_EVERY_MS) return;
    this.#lastSweep = now;
    for (const set of [...this.#sets.keys()]) this.#live(set, now);
  }

  #checkOpen(): void {
    if (this.#closed) throw new Error('MemoryPresence is closed');
  }
}
