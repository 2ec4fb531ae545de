import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { createRedisBackends, type RedisBackends } from '../../src/backends/redis/redis-backends.js';
import type { Clock } from '../../src/core/ports/clock.js';

export const REDIS_URL = process.env.REDIS_URL || undefined;
export const DATABASE_URL = process.env.DATABASE_URL?.startsWith('postgres') ? process.env.DATABASE_URL : undefined;

/** Says once per test file, in the run's output, which leg did not run and why. */
export function noteSkipped(leg: string, envVar: string): void {
  console.warn(`[contract] ${leg} leg SKIPPED: ${envVar} is not set (set it to run this port's contract against a real server)`);
}

export const uniqueId = () => randomBytes(4).toString('hex');

/** Polls `check` until it returns without throwing; no fixed sleeps in tests. */
export async function waitFor<T>(check: () => T | Promise<T>, timeoutMs = 5_000): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (err) {
      if (performance.now() > deadline) throw err;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }
}

/** Deletes every key under `prefix` (the test's own namespace) from Redis. */
export async function deleteRedisPrefix(url: string, prefix: string): Promise<void> {
  const redis = new Redis(url, { lazyConnect: true });
  await redis.connect();
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
      cursor = next;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    await redis.quit();
  }
}

/** A raw client for things the ports do not expose (CLIENT KILL, inspecting TTLs). */
export async function rawRedis(url: string): Promise<Redis> {
  const redis = new Redis(url, { lazyConnect: true });
  await redis.connect();
  return redis;
}

/** Collects what a handler received, in order. */
export function recorder<T>() {
  const seen: T[] = [];
  return { seen, handler: (p: T) => void seen.push(p) };
}

/**
 * A contract factory over real Redis: every instance it creates shares `prefix` (so two instances see
 * each other), and `closeAll` closes them all.
 */
export function redisInstances<T>(url: string, prefix: string, pick: (b: RedisBackends) => T) {
  const bundles: RedisBackends[] = [];
  return {
    async create(clock: Clock): Promise<T> {
      const bundle = await createRedisBackends({ url, prefix, clock });
      bundles.push(bundle);
      return pick(bundle);
    },
    async closeAll() {
      await Promise.all(bundles.splice(0).map((b) => b.close()));
    },
  };
}
