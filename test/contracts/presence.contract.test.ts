import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { Presence } from '../../src/core/ports/presence.js';
import { MemoryPresence } from '../../src/backends/memory/memory-presence.js';
import { createRedisBackends } from '../../src/backends/redis/redis-backends.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { REDIS_URL, deleteRedisPrefix, noteSkipped, rawRedis, uniqueId, redisInstances } from './support.js';

interface PresenceHarness {
  /** Every instance of one harness reads the given clock; `shared` ones also share state. */
  create(clock: ManualClock): Promise<Presence>;
  closeAll(): Promise<void>;
}

function presenceContract(name: string, shared: boolean, makeHarness: () => PresenceHarness) {
  describe(`Presence contract: ${name}`, () => {
    let harness: PresenceHarness;
    let clock: ManualClock;
    const setup = async () => {
      harness = makeHarness();
      clock = new ManualClock();
      return harness.create(clock);
    };
    afterEach(async () => {
      await harness?.closeAll();
    });

    it('counts by member: repeated touches never inflate the count', async () => {
      const p = await setup();
      expect(await p.touch('room', 'alice', 1000)).toEqual({ admitted: true, joined: true, count: 1 });
      expect(await p.touch('room', 'alice', 1000)).toEqual({ admitted: true, joined: false, count: 1 });
      expect(await p.touch('room', 'bob', 1000)).toEqual({ admitted: true, joined: true, count: 2 });
      expect(await p.count('room')).toBe(2);
      expect(await p.count('empty')).toBe(0);
    });

    it('expires a member exactly ttlMs after its latest touch, on the Clock', async () => {
      const p = await setup();
      await p.touch('room', 'alice', 1000);
      await clock.advance(999);
      expect(await p.count('room')).toBe(1);
      await clock.advance(1);
      expect(await p.count('room')).toBe(0);
      expect(await p.touch('room', 'alice', 1000)).toEqual({ admitted: true, joined: true, count: 1 });
    });

    it('a touch refreshes the expiry', async () => {
      const p = await setup();
      await p.touch('room', 'alice', 1000);
      await clock.advance(600);
      await p.touch('room', 'alice', 1000);
      await clock.advance(600);
      expect(await p.count('room')).toBe(1);
      await clock.advance(400);
      expect(await p.count('room')).toBe(0);
    });

    it('counts only live members when some have expired', async () => {
      const p = await setup();
      await p.touch('room', 'short', 100);
      await p.touch('room', 'long', 10_000);
      await clock.advance(100);
      expect(await p.count('room')).toBe(1);
      expect(await p.touch('room', 'other', 1000)).toEqual({ admitted: true, joined: true, count: 2 });
    });

    it('leave removes a member; leaving twice or leaving an unknown member is harmless', async () => {
      const p = await setup();
      await p.touch('room', 'alice', 1000);
      await p.touch('room', 'bob', 1000);
      await p.leave('room', 'alice');
      await p.leave('room', 'alice');
      await p.leave('nowhere', 'nobody');
      expect(await p.count('room')).toBe(1);
      expect((await p.touch('room', 'alice', 1000)).joined).toBe(true);
    });

    it('keeps sets apart', async () => {
      const p = await setup();
      await p.touch('a', 'm', 1000);
      await p.touch('b', 'm', 1000);
      await p.leave('a', 'm');
      expect(await p.count('a')).toBe(0);
      expect(await p.count('b')).toBe(1);
    });

    it('limit refuses new members at the limit but always refreshes present ones', async () => {
      const p = await setup();
      expect((await p.touch('room', 'a', 1000, { limit: 2 })).admitted).toBe(true);
      expect((await p.touch('room', 'b', 1000, { limit: 2 })).admitted).toBe(true);
      expect(await p.touch('room', 'c', 1000, { limit: 2 })).toEqual({ admitted: false, joined: false, count: 2 });
      expect(await p.count('room')).toBe(2);
      await clock.advance(500);
      expect(await p.touch('room', 'a', 1000, { limit: 2 })).toEqual({ admitted: true, joined: false, count: 2 });
      await clock.advance(500); // b expires, a (refreshed) stays
      expect(await p.touch('room', 'c', 1000, { limit: 2 })).toEqual({ admitted: true, joined: true, count: 2 });
      expect(await p.touch('room', 'z', 1000, { limit: 0 })).toEqual({ admitted: false, joined: false, count: 2 });
    });

    it('limit admission is atomic under concurrent touches', async () => {
      const p = await setup();
      const results = await Promise.all(Array.from({ length: 50 }, (_, i) => p.touch('room', `m${i}`, 60_000, { limit: 10 })));
      expect(results.filter((r) => r.admitted)).toHaveLength(10);
      expect(results.filter((r) => r.joined)).toHaveLength(10);
      expect(await p.count('room')).toBe(10);
    });

    it('rejects a ttl or limit that makes no sense', async () => {
      const p = await setup();
      await expect(p.touch('room', 'a', 0)).rejects.toThrow(RangeError);
      await expect(p.touch('room', 'a', -5)).rejects.toThrow(RangeError);
      await expect(p.touch('room', 'a', Number.NaN)).rejects.toThrow(RangeError);
      await expect(p.touch('room', 'a', 1000, { limit: -1 })).rejects.toThrow(RangeError);
      await expect(p.touch('room', 'a', 1000, { limit: 1.5 })).rejects.toThrow(RangeError);
    });

    it('answers ping, and rejects calls after close', async () => {
      const p = await setup();
      await expect(p.ping()).resolves.toBeUndefined();
      await p.close();
      await expect(p.touch('room', 'a', 1000)).rejects.toThrow(/closed/);
      await expect(p.count('room')).rejects.toThrow(/closed/);
      await expect(p.ping()).rejects.toThrow(/closed/);
    });

    describe.skipIf(!shared)('across instances', () => {
      it('instances share members and counts', async () => {
        const a = await setup();
        const b = await harness.create(clock);
        await a.touch('room', 'alice', 1000);
        expect(await b.touch('room', 'alice', 1000)).toEqual({ admitted: true, joined: false, count: 1 });
        await b.touch('room', 'bob', 1000);
        expect(await a.count('room')).toBe(2);
        await b.leave('room', 'alice');
        expect(await a.count('room')).toBe(1);
      });

      it('limit holds across instances under concurrent touches', async () => {
        const a = await setup();
        const b = await harness.create(clock);
        const touches = Array.from({ length: 50 }, (_, i) => (i % 2 === 0 ? a : b).touch('room', `m${i}`, 60_000, { limit: 10 }));
        const results = await Promise.all(touches);
        expect(results.filter((r) => r.admitted)).toHaveLength(10);
        expect(await b.count('room')).toBe(10);
      });
    });
  });
}

presenceContract('MemoryPresence', false, () => {
  const made: Presence[] = [];
  return {
    async create(clock) {
      const p = new MemoryPresence(clock);
      made.push(p);
      return p;
    },
    async closeAll() {
      await Promise.all(made.splice(0).map((p) => p.close()));
    },
  };
});

const redisPrefix = `sptest:${uniqueId()}:`;
if (!REDIS_URL) noteSkipped('RedisPresence', 'REDIS_URL');

describe.skipIf(!REDIS_URL)('RedisPresence', () => {
  let n = 0;
  const prefixFor = (i: number) => `${redisPrefix}${i}:`;
  presenceContract('RedisPresence', true, () => redisInstances(REDIS_URL!, prefixFor(n++), (b) => b.presence));

  it('gives every set key a TTL, so abandoned sets vanish from Redis', async () => {
    const prefix = prefixFor(n++);
    const bundle = await createRedisBackends({ url: REDIS_URL!, prefix, clock: new ManualClock() });
    const raw = await rawRedis(REDIS_URL!);
    try {
      await bundle.presence.touch('room', 'a', 5_000);
      const keys = await raw.keys(`${prefix}*`);
      expect(keys).toHaveLength(1);
      const ttl = await raw.pttl(keys[0]!);
      expect(ttl).toBeGreaterThan(5_000);
      expect(ttl).toBeLessThanOrEqual(5_000 + 60_000);
    } finally {
      await raw.quit();
      await bundle.close();
    }
  });

  afterAll(async () => {
    await deleteRedisPrefix(REDIS_URL!, redisPrefix);
  });
});
