import { describe, expect, it } from 'vitest';
import { ManualClock } from './manual-clock.js';
import { SystemClock } from '../../src/backends/system-clock.js';

describe('ManualClock', () => {
  it('starts at the given time and only moves when told', async () => {
    const clock = new ManualClock();
    expect(clock.now()).toBe(Date.UTC(2026, 0, 1));
    await clock.advance(1500);
    expect(clock.now()).toBe(Date.UTC(2026, 0, 1) + 1500);
    expect(new ManualClock(42).now()).toBe(42);
  });

  it('fires due timers in due order, each seeing its own due time, and re-arms intervals', async () => {
    const clock = new ManualClock(0);
    const log: string[] = [];
    clock.setTimeout(() => log.push(`t300@${clock.now()}`), 300);
    clock.setTimeout(() => log.push(`t100@${clock.now()}`), 100);
    const every = clock.setInterval(() => log.push(`i250@${clock.now()}`), 250);
    await clock.advance(600);
    expect(log).toEqual(['t100@100', 'i250@250', 't300@300', 'i250@500']);
    every.cancel();
    await clock.advance(1000);
    expect(log).toHaveLength(4);
    expect(clock.pendingTimers).toBe(0);
  });

  it('fires timers created by fired timers within the same advance, and resolves sleeps', async () => {
    const clock = new ManualClock(0);
    const log: number[] = [];
    clock.setTimeout(() => clock.setTimeout(() => log.push(clock.now()), 50), 50);
    const slept = (async () => {
      await clock.sleep(80);
      await clock.sleep(10);
      log.push(-clock.now());
    })();
    await clock.advance(100);
    await slept;
    expect(log).toEqual([-90, 100]);
  });

  it('does not fire cancelled timers', async () => {
    const clock = new ManualClock(0);
    let fired = false;
    clock.setTimeout(() => (fired = true), 10).cancel();
    await clock.advance(100);
    expect(fired).toBe(false);
  });

  it('set() jumps the wall clock without firing or delaying timers', async () => {
    const clock = new ManualClock(0);
    let firedAt: number | undefined;
    clock.setTimeout(() => (firedAt = clock.now()), 100);
    clock.set(1_000_000);
    expect(firedAt).toBeUndefined();
    await clock.advance(100);
    expect(firedAt).toBe(1_000_100);
  });
});

describe('SystemClock', () => {
  it('tells the time, never backwards, and runs and cancels timers', async () => {
    const clock = new SystemClock();
    const a = clock.now();
    expect(Math.abs(a - Date.now())).toBeLessThan(1000);
    expect(clock.now()).toBeGreaterThanOrEqual(a);
    let cancelledFired = false;
    clock.setTimeout(() => (cancelledFired = true), 1).cancel();
    let ticks = 0;
    const every = clock.setInterval(() => (ticks += 1), 1);
    await clock.sleep(20);
    every.cancel();
    expect(ticks).toBeGreaterThan(0);
    expect(cancelledFired).toBe(false);
  });
});
