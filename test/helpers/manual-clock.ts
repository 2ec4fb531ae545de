import type { Clock, TimerHandle } from '../../src/core/ports/clock.js';

interface Timer {
  seq: number;
  due: number;
  fn: () => void;
  every: number | undefined;
  cancelled: boolean;
}

/** Lets microtasks and promise chains started by a fired timer settle before the next one fires. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * A Clock that only moves when the test says so. Timers run on a separate monotonic timeline (like
 * Node's), so `set()` models a wall-clock jump: it changes now() but neither fires nor delays timers.
 */
export class ManualClock implements Clock {
  #wall: number;
  #mono = 0;
  #seq = 0;
  #timers: Timer[] = [];
  #queue: Promise<void> = Promise.resolve();

  constructor(startMs = Date.UTC(2026, 0, 1)) {
    this.#wall = startMs;
  }

  now(): number {
    return this.#wall;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    return this.#add(fn, Math.max(0, ms), undefined);
  }

  setInterval(fn: () => void, ms: number): TimerHandle {
    // Node clamps intervals to 1 ms; a 0 ms interval would make advance() loop forever.
    const every = Math.max(1, ms);
    return this.#add(fn, every, every);
  }

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.setTimeout(resolve, ms);
    });
  }

  /** Jump the wall clock (forwards or backwards) without firing timers. */
  set(ms: number): void {
    this.#wall = ms;
  }

  /** Number of live timers: lets tests check that a component cancelled its timers on close. */
  get pendingTimers(): number {
    return this.#timers.filter((t) => !t.cancelled).length;
  }

  /**
   * Move time forward by `ms`, firing every timer that falls due (including timers created by fired
   * callbacks) in due-time order, ties in creation order. Calls are queued, never interleaved.
   */
  advance(ms: number): Promise<void> {
    if (!(ms >= 0)) throw new RangeError(`advance(${ms}): ms must be >= 0`);
    const run = this.#queue.then(() => this.#advance(ms));
    this.#queue = run.catch(() => undefined);
    return run;
  }

  async #advance(ms: number): Promise<void> {
    const target = this.#mono + ms;
    await settle();
    for (;;) {
      const next = this.#nextDue(target);
      if (!next) break;
      this.#wall += next.due - this.#mono;
      this.#mono = next.due;
      if (next.every === undefined) {
        next.cancelled = true;
      } else {
        next.due += next.every;
      }
      this.#timers = this.#timers.filter((t) => !t.cancelled);
      next.fn();
      await settle();
    }
    this.#wall += target - this.#mono;
    this.#mono = target;
    await settle();
  }

  #nextDue(target: number): Timer | undefined {
    let best: Timer | undefined;
    for (const t of this.#timers) {
      if (t.cancelled || t.due > target) continue;
      if (!best || t.due < best.due || (t.due === best.due && t.seq < best.seq)) best = t;
    }
    return best;
  }

  #add(fn: () => void, delay: number, every: number | undefined): TimerHandle {
    const timer: Timer = { seq: this.#seq++, due: this.#mono + delay, fn, every, cancelled: false };
    this.#timers.push(timer);
    return {
      cancel: () => {
        timer.cancelled = true;
      },
    };
  }
}
