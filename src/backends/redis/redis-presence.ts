import type { Redis } from 'ioredis';
import type { Clock } from '../../core/ports/clock.js';
import type { Presence, TouchResult } from '../../core/ports/presence.js';
import { checkTouchArgs } from '../port-args.js';
import { guard, luaScript, runScript } from './redis-errors.js';

/**
 * One sorted set per presence set, score = expiry time on the Clock. Prune, admission check and
 * refresh run in one script, so `limit` holds across instances and concurrent heartbeats.
 * KEYS[1] set key; ARGV: member, now, expiresAt, limit (-1 = none), keyTtlMs.
 */
const TOUCH = luaScript(`
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[2])
local present = redis.call('ZSCORE', KEYS[1], ARGV[1]) and 1 or 0
local count = redis.call('ZCARD', KEYS[1])
local limit = tonumber(ARGV[4])
if present == 0 and limit >= 0 and count >= limit then
  return {0, 0, count}
end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
local keyTtl = tonumber(ARGV[5])
if redis.call('PTTL', KEYS[1]) < keyTtl then
  redis.call('PEXPIRE', KEYS[1], keyTtl)
end
return {1, 1 - present, count + 1 - present}
`);

/**
 * Scores come from the instances' Clocks while the key's PEXPIRE runs on the server's clock; the slack
 * keeps the server from deleting a set early when those clocks disagree. The PEXPIRE only exists so
 * that abandoned sets vanish: liveness is decided by the scores.
 */
const KEY_TTL_SLACK_MS = 60_000;

export class RedisPresence implements Presence {
  readonly #redis: Redis;
  readonly #prefix: string;
  readonly #clock: Clock;
  #closed = false;

  constructor(redis: Redis, opts: { prefix: string; clock: Clock }) {
    this.#redis = redis;
    this.#prefix = `${opts.prefix}presence:`;
    this.#clock = opts.clock;
  }

  async touch(set: string, member: string, ttlMs: number, opts: { limit?: number } = {}): Promise<TouchResult> {
    this.#checkOpen();
    checkTouchArgs(ttlMs, opts.limit);
    const now = this.#clock.now();
    const args = [member, now, now + ttlMs, opts.limit ?? -1, Math.ceil(ttlMs) + KEY_TTL_SLACK_MS];
    const reply = (await guard('cache', () => runScript(this.#redis, TOUCH, [this.#prefix + set], args))) as [number, number, number];
    return { admitted: reply[0] === 1, joined: reply[1] === 1, count: reply[2] };
  }

  async leave(set: string, member: string): Promise<void> {
    this.#checkOpen();
    await guard('cache', () => this.#redis.zrem(this.#prefix + set, member));
  }

  async count(set: string): Promise<number> {
    this.#checkOpen();
    // Read-only: counts live members without pruning, so reads never contend with touches.
    return guard('cache', () => this.#redis.zcount(this.#prefix + set, `(${this.#clock.now()}`, '+inf'));
  }

  async ping(): Promise<void> {
    this.#checkOpen();
    await guard('cache', () => this.#redis.ping());
  }

  /** The connection belongs to whoever created it (createRedisBackends); this only stops further use. */
  async close(): Promise<void> {
    this.#closed = true;
  }

  #checkOpen(): void {
    if (this.#closed) throw new Error('RedisPresence is closed');
  }
}
