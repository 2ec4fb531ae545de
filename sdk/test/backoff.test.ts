import { describe, expect, it } from 'vitest';
import { Backoff } from '../src/backoff.js';

describe('Backoff (exponential, full jitter, capped)', () => {
  it('draws each delay uniformly below a ceiling that doubles up to the cap', () => {
    const top = new Backoff({ baseMs: 100, capMs: 1_000, random: () => 0.999999 });
    expect(Array.from({ length: 7 }, () => top.next())).toEqual([99, 199, 399, 799, 999, 999, 999]);
    const half = new Backoff({ baseMs: 100, capMs: 1_000, random: () => 0.5 });
    expect(Array.from({ length: 5 }, () => half.next())).toEqual([50, 100, 200, 400, 500]);
    const zero = new Backoff({ baseMs: 100, capMs: 1_000, random: () => 0 });
    expect(zero.next()).toBe(0);
  });

  it('counts attempts, starts over after reset, and never overflows after many failures', () => {
    const b = new Backoff({ baseMs: 500, capMs: 30_000, random: () => 0.999 });
    for (let i = 0; i < 2_000; i++) expect(b.next()).toBeLessThan(30_000);
    expect(b.attempts).toBe(2_000);
    b.reset();
    expect(b.attempts).toBe(0);
    expect(b.next()).toBe(499);
  });

  it('refuses a cap below the base', () => {
    expect(() => new Backoff({ baseMs: 10, capMs: 5 })).toThrow(RangeError);
  });
});
