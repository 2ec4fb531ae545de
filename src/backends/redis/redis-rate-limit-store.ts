import type { Redis } from 'ioredis';
import type { Clock } from '../../core/ports/clock.js';
import type { RateLimitStore } from '../../core/ports/rate-limit-store.js';
import { checkWindow } from '../port-args.js';
import { guard, luaScript, runScript } from './redis-errors.js';

/**
 * A hash {c: count, r: reset time on the Clock} per key. The window is timed by the Clock rather than
 * by the key's TTL so that every instance (and a test's ManualClock) agrees with MemoryRateLimitStore
 * on when it resets; PEXPIRE (with slack for clock disagreement) only garbage-collects old keys.
 * KEYS[1] key; ARGV: now, windowMs, keyTtlMs. Returns {count, resetAt}.
 */
const HIT = luaScript(`
local now = tonumber(ARGV[1])
local reset = tonumber(redis.call('HGET', KEYS[1], 'r'))
if not reset or reset <= now then
  reset = now + tonumber(ARGV[2])
  redis.call('HSET', KEYS[1], 'r', reset, 'c', 1)
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  return {1, tostring(reset)}
end
return {redis.call('HINCRBY', KEYS[1], 'c', 1), tostring(reset)}
`);

const KEY_TTL_SLACK_MS = 60_000;

export class RedisRateLimitStore implements RateLimitStore {
  readonly #redis: Redis;
  readonly #prefix: string;
  readonly #clock: Clock;
  #closed = false;

  constructor(redis: Redis, opts: { prefix: string; clock: Clock }) {
    this.#redis = redis;
    this.#prefix = `${opts.prefix}rl:`;
    this.#clock = opts.clock;
  }

  async hit(key: string, windowMs: number): Promise<{ count: number; resetInMs: number }> {
    if (this.#closed) throw new Error('RedisRateLimitStore is closed');
    checkWindow(windowMs);
    const now = this.#clock.now();
    const args = [now, windowMs, Math.ceil(windowMs) + KEY_TTL_SLACK_MS];
    const [count, resetAt] = (await guard('cache', () => runScript(this.#redis, HIT, [this.#prefix + key], args))) as [number, string];
    return { count, resetInMs: Number(resetAt) - now };
  }

  /** The connection belongs to whoever created it (createRedisBackends); this only stops further use. */
  async close(): Promise<void> {
    this.#closed = true;
  }
}
