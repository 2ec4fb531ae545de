import type { Clock, TimerHandle } from '../core/ports/clock.js';

/**
 * The real clock. This is the one file in src/ allowed to touch Date.now and Node's timers, so that
 * everything else can be driven by a ManualClock in tests.
 */
export class SystemClock implements Clock {
  // Clock guarantees now() never goes backwards within one instance, even if the wall clock is stepped back.
  #last = 0;

  now(): number {
    const t = Date.now();
    if (t > this.#last) this.#last = t;
    return this.#last;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const t = setTimeout(fn, ms);
    // Timers must never keep a process alive; whoever needs to wait holds a promise or a socket instead.
    t.unref();
    return { cancel: () => clearTimeout(t) };
  }

  setInterval(fn: () => void, ms: number): TimerHandle {
    const t = setInterval(fn, ms);
    t.unref();
    return { cancel: () => clearInterval(t) };
  }

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.setTimeout(resolve, ms);
    });
  }
}
