import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import { DependencyUnavailableError } from '../../core/errors.js';

/** Redis replies that mean "not now" rather than "wrong command". */
const UNAVAILABLE_REPLIES = /^(LOADING|READONLY|BUSY|MASTERDOWN|CLUSTERDOWN|TRYAGAIN|OOM)\b/;

/**
 * Everything ioredis rejects with that is not a Redis reply (closed stream, offline queue disabled,
 * retries exhausted, socket errors) is a connection-level failure.
 */
export function isUnavailable(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  if (err.name === 'ReplyError') return UNAVAILABLE_REPLIES.test(err.message);
  return true;
}

export async function guard<T>(dependency: 'cache' | 'queue', op: () => Promise<T>): Promise<T> {
  try {
    return await op();
  } catch (err) {
    throw isUnavailable(err) ? new DependencyUnavailableError(dependency, err) : err;
  }
}

export interface LuaScript {
  lua: string;
  sha: string;
}

export function luaScript(lua: string): LuaScript {
  return { lua, sha: createHash('sha1').update(lua).digest('hex') };
}

/** EVALSHA, falling back to EVAL (which also caches the script) after a restart or SCRIPT FLUSH. */
export async function runScript(redis: Redis, script: LuaScript, keys: string[], args: (string | number)[]): Promise<unknown> {
  try {
    return await redis.evalsha(script.sha, keys.length, ...keys, ...args);
  } catch (err) {
    if (err instanceof Error && err.message.startsWith('NOSCRIPT')) {
      return redis.eval(script.lua, keys.length, ...keys, ...args);
    }
    throw err;
  }
}
