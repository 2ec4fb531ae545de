/**
 * Clock: the only source of time and timers in Streamplane.
 *
 * Guarantees:
 * - `now()` is milliseconds since the Unix epoch; it never goes backwards within one SystemClock
 *   (wall-clock adjustments are not smoothed, so never use it to measure durations across processes).
 * - Timers created here are cancelled by their handle; whoever creates a timer cancels it on close.
 * - Tests drive a ManualClock (test/helpers/manual-clock.ts): timers fire only when the test advances time.
 */
export interface TimerHandle {
  cancel(): void;
}

export interface Clock {
  now(): number;
  /** Run `fn` once after `ms`. The timer does not keep the process alive. */
  setTimeout(fn: () => void, ms: number): TimerHandle;
  /** Run `fn` every `ms` until cancelled. The timer does not keep the process alive. */
  setInterval(fn: () => void, ms: number): TimerHandle;
  /** Resolve after `ms` (uses setTimeout above). */
  sleep(ms: number): Promise<void>;
}
