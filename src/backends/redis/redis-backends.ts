import { Redis, type RedisOptions } from 'ioredis';
import type { Clock } from '../../core/ports/clock.js';
import { DependencyUnavailableError } from '../../core/errors.js';
import { describeError, redactUrl } from '../describe-error.js';
import { RedisBus } from './redis-bus.js';
import { RedisPresence } from './redis-presence.js';
import { RedisRateLimitStore } from './redis-rate-limit-store.js';

export interface RedisBackendsOptions {
  url: string;
  /** Namespaces every key and channel, e.g. 'streamplane:' or a per-test 'sptest:ab12cd:'. */
  prefix: string;
  clock: Clock;
  /** Bus handler errors (topic = event name) and Redis outages (topic = 'redis:commands' | 'redis:subscriber'). */
  onError?: (err: unknown, topic: string) => void;
  /** How long to wait for the first connection before giving up, measured on `clock` (default 10 s). */
  connectTimeoutMs?: number;
}

export interface RedisBackends {
  bus: RedisBus;
  presence: RedisPresence;
  rateLimits: RedisRateLimitStore;
  close(): Promise<void>;
}

const RECONNECT_CAP_MS = 5_000;

/**
 * Calls must fail fast while Redis is away (the HTTP layer answers 503) instead of queueing in memory
 * until it returns, while the connection itself keeps reconnecting forever with capped backoff.
 */
function connectionOptions(name: string): RedisOptions {
  return {
    lazyConnect: true,
    enableOfflineQueue: false,
    // 0: a command in flight when the connection drops is rejected at once instead of being replayed
    // after the reconnect (a replayed rate-limit hit or presence touch would count twice).
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    connectTimeout: 5_000,
    retryStrategy: (times) => Math.min(100 * 2 ** Math.min(times, 6), RECONNECT_CAP_MS),
    // RedisBus re-sends its subscriptions itself on 'ready', which also covers SUBSCRIBEs that failed.
    autoResubscribe: false,
    connectionName: name,
  };
}

/** Reports the first error of an outage only; a Redis that is down would otherwise log every retry. */
function watchOutages(conn: Redis, topic: string, onError: (err: unknown, topic: string) => void): void {
  let down = false;
  conn.on('error', (err: unknown) => {
    if (down) return;
    down = true;
    onError(err, topic);
  });
  conn.on('ready', () => {
    down = false;
  });
}

/** Resolves on the first 'ready'; rejects after `ms` on the Clock with the last connection error. */
function firstReady(conn: Redis, clock: Clock, ms: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let lastError: unknown = new Error('no answer');
    const onError = (err: unknown) => {
      lastError = err;
    };
    const timer = clock.setTimeout(() => {
      conn.off('ready', onReady);
      conn.off('error', onError);
      reject(lastError);
    }, ms);
    const onReady = () => {
      timer.cancel();
      conn.off('error', onError);
      resolve();
    };
    conn.once('ready', onReady);
    conn.on('error', onError);
    // connect() rejects on the first failed attempt while ioredis keeps retrying; 'ready' decides.
    conn.connect().catch(() => undefined);
  });
}

/**
 * Opens the two Redis connections Streamplane needs (commands, shared by presence, rate limits and
 * bus publishing; and a dedicated subscriber) and builds the backends on them. The returned close()
 * owns the connections.
 */
export async function createRedisBackends(opts: RedisBackendsOptions): Promise<RedisBackends> {
  const onError = opts.onError ?? (() => undefined);
  // Named after the prefix so an operator (or a test) can tell deployments' connections apart in CLIENT LIST.
  const name = opts.prefix.replace(/[^\w:.-]/g, '_');
  const commands = new Redis(opts.url, connectionOptions(`${name}commands`));
  const subscriber = new Redis(opts.url, connectionOptions(`${name}subscriber`));
  watchOutages(commands, 'redis:commands', onError);
  watchOutages(subscriber, 'redis:subscriber', onError);
  const timeoutMs = opts.connectTimeoutMs ?? 10_000;
  try {
    await Promise.all([firstReady(commands, opts.clock, timeoutMs), firstReady(subscriber, opts.clock, timeoutMs)]);
  } catch (err) {
    commands.disconnect();
    subscriber.disconnect();
    throw new DependencyUnavailableError(
      'cache',
      new Error(`could not connect to Redis at ${redactUrl(opts.url)} (REDIS_URL) within ${timeoutMs} ms: ${describeError(err)}`, { cause: err }),
    );
  }

  const bus = new RedisBus({ publisher: commands, subscriber, prefix: opts.prefix, onError });
  const presence = new RedisPresence(commands, { prefix: opts.prefix, clock: opts.clock });
  const rateLimits = new RedisRateLimitStore(commands, { prefix: opts.prefix, clock: opts.clock });
  let closing: Promise<void> | undefined;
  return {
    bus,
    presence,
    rateLimits,
    close() {
      closing ??= (async () => {
        await bus.close();
        await presence.close();
        await rateLimits.close();
        await Promise.all([quit(commands), quit(subscriber)]);
      })();
      return closing;
    },
  };
}

/** QUIT lets pending replies arrive; when Redis is unreachable there is nothing to wait for. */
async function quit(conn: Redis): Promise<void> {
  if (conn.status === 'ready') {
    try {
      await conn.quit();
      return;
    } catch {
      // fall through to disconnect
    }
  }
  conn.disconnect();
}
