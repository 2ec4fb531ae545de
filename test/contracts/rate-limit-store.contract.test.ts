import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { RateLimitStore } from '../../src/core/ports/rate-limit-store.js';
import { MemoryRateLimitStore } from '../../src/backends/memory/memory-rate-limit-store.js';
import { createRedisBackends } from '../../src/backends/redis/redis-backends.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { REDIS_URL, deleteRedisPrefix, noteSkipped, rawRedis, uniqueId, redisInstances } from './support.js';

interface RateLimitHarness {
  create(clock: ManualClock): Promise<RateLimitStore>;
  closeAll(): Promise<void>;
}

function rateLimitContract(name: string, shared: boolean, makeHarness: () => RateLimitHarness) {
  describe(`RateLimitStore contract: ${name}`, () => {
    let harness: RateLimitHarness;
    let clock: ManualClock;
    const setup = async () => {
      harness = makeHarness();
      clock = new ManualClock();
      return harness.create(clock);
    };
    afterEach(async () => {
      await harness?.closeAll();
    });

    it('counts hits in a window that the first hit starts', async () => {
      const s = await setup();
      expect(await s.hit('client', 1000)).toEqual({ count: 1, resetInMs: 1000 });
      await clock.advance(300);
      expect(await s.hit('client', 1000)).toEqual({ count: 2, resetInMs: 700 });
      await clock.advance(699);
      expect(await s.hit('client', 1000)).toEqual({ count: 3, resetInMs: 1 });
    });

    it('starts a new window once the old one is over', async () => {
      const s = await setup();
      await s.hit('client', 1000);
      await s.hit('client', 1000);
      await clock.advance(1000);
      expect(await s.hit('client', 1000)).toEqual({ count: 1, resetInMs: 1000 });
      await clock.advance(5_000);
      expect(await s.hit('client', 1000)).toEqual({ count: 1, resetInMs: 1000 });
    });

    it('keeps keys apart', async () => {
      const s = await setup();
      await s.hit('a', 1000);
      await s.hit('a', 1000);
      expect((await s.hit('b', 1000)).count).toBe(1);
      expect((await s.hit('a', 1000)).count).toBe(3);
    });

    it('hitSync, where the store offers it, counts in the same windows as hit', async () => {
      const s = await setup();
      if (!s.hitSync) return void expect(shared).toBe(true); // only in-process stores may offer it
      await s.hit('mixed', 1000);
      await clock.advance(100);
      expect(s.hitSync('mixed', 1000)).toEqual({ count: 2, resetInMs: 900 });
      expect(await s.hit('mixed', 1000)).toEqual({ count: 3, resetInMs: 900 });
      await clock.advance(900);
      expect(s.hitSync('mixed', 1000)).toEqual({ count: 1, resetInMs: 1000 });
    });

    it('counts concurrent hits exactly once each', async () => {
      const s = await setup();
      const results = await Promise.all(Array.from({ length: 100 }, () => s.hit('burst', 60_000)));
      expect(results.map((r) => r.count).sort((x, y) => x - y)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
    });

    it('rejects a window that makes no sense', async () => {
      const s = await setup();
      await expect(s.hit('k', 0)).rejects.toThrow(RangeError);
      await expect(s.hit('k', Number.POSITIVE_INFINITY)).rejects.toThrow(RangeError);
    });

    it('rejects hits after close', async () => {
      const s = await setup();
      await s.close();
      await expect(s.hit('k', 1000)).rejects.toThrow(/closed/);
    });

    describe.skipIf(!shared)('across instances', () => {
      it('instances share counters and windows', async () => {
        const a = await setup();
        const b = await harness.create(clock);
        await a.hit('client', 1000);
        await clock.advance(400);
        expect(await b.hit('client', 1000)).toEqual({ count: 2, resetInMs: 600 });
        const burst = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).hit('client', 1000)));
        expect(Math.max(...burst.map((r) => r.count))).toBe(22);
      });
    });
  });
}

rateLimitContract('MemoryRateLimitStore', false, () => {
  const made: RateLimitStore[] = [];
  return {
    async create(clock) {
      const s = new MemoryRateLimitStore(clock);
      made.push(s);
      return s;
    },
    async closeAll() {
      await Promise.all(made.splice(0).map((s) => s.close()));
    },
  };
});

describe('MemoryRateLimitStore memory bound', () => {
  it('drops expired windows and never holds more than maxKeys', async () => {
    const clock = new ManualClock();
    const s = new MemoryRateLimitStore(clock, { maxKeys: 3 });
    for (const k of ['a', 'b', 'c', 'd', 'e']) await s.hit(k, 1000);
    expect(s.size).toBe(3);
    // The oldest windows made room; the newest are intact.
    expect((await s.hit('e', 1000)).count).toBe(2);
    await clock.advance(1000);
    await s.hit('f', 1000);
    expect(s.size).toBe(1);
    await s.close();
  });
});

const redisPrefix = `sptest:${uniqueId()}:`;
if (!REDIS_URL) noteSkipped('RedisRateLimitStore', 'REDIS_URL');

describe.skipIf(!REDIS_URL)('RedisRateLimitStore', () => {
  let n = 0;
  const prefixFor = (i: number) => `${redisPrefix}${i}:`;
  rateLimitContract('RedisRateLimitStore', true, () => redisInstances(REDIS_URL!, prefixFor(n++), (b) => b.rateLimits));

  it('gives every counter key a TTL, so old windows vanish from Redis', async () => {
    const prefix = prefixFor(n++);
    const bundle = await createRedisBackends({ url: REDIS_URL!, prefix, clock: new ManualClock() });
    const raw = await rawRedis(REDIS_URL!);
    try {
      await bundle.rateLimits.hit('client', 2_000);
      const keys = await raw.keys(`${prefix}*`);
      expect(keys).toHaveLength(1);
      const ttl = await raw.pttl(keys[0]!);
      expect(ttl).toBeGreaterThan(2_000);
      expect(ttl).toBeLessThanOrEqual(2_000 + 60_000);
    } finally {
      await raw.quit();
      await bundle.close();
    }
  });

  afterAll(async () => {
    await deleteRedisPrefix(REDIS_URL!, redisPrefix);
  });
});
