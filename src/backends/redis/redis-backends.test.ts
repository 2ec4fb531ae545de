import { createServer } from 'node:net';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { DependencyUnavailableError } from '../../core/errors.js';
import { SystemClock } from '../system-clock.js';
import { createRedisBackends } from './redis-backends.js';
import { startProxy } from '../../../test/helpers/tcp-proxy.js';
import { waitFor } from '../../../test/contracts/support.js';

const REDIS_URL = process.env.REDIS_URL || undefined;


describe('createRedisBackends', () => {
  it('rejects with a DependencyUnavailableError naming REDIS_URL when Redis cannot be reached', async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    await new Promise<void>((resolve) => server.close(() => resolve()));
    const errors: unknown[] = [];
    const err = await createRedisBackends({
      url: `redis://:hunter2@127.0.0.1:${port}`,
      prefix: 'sptest:unreachable:',
      clock: new SystemClock(),
      connectTimeoutMs: 300,
      onError: (e) => errors.push(e),
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DependencyUnavailableError);
    expect((err as Error).message).toMatch(/REDIS_URL/);
    expect((err as Error).message).toMatch(/ECONNREFUSED/);
    expect((err as Error).message).not.toMatch(/hunter2/);
    // Retries happened while waiting, but the outage was reported once per connection.
    expect(errors.length).toBeLessThanOrEqual(2);
  });
});

describe.skipIf(!REDIS_URL)('createRedisBackends against a Redis that goes away', () => {
  const prefix = `sptest:outage:${process.pid}:${Math.random().toString(36).slice(2, 8)}:`;

  afterAll(async () => {
    const raw = new Redis(REDIS_URL!);
    const keys = await raw.keys(`${prefix}*`);
    if (keys.length > 0) await raw.del(...keys);
    await raw.quit();
  });

  it('fails fast while Redis is down, reports each outage once, and resubscribes after reconnecting', async () => {
    const proxy = await startProxy(new URL(REDIS_URL!));
    const errors: { err: unknown; topic: string }[] = [];
    const backends = await createRedisBackends({ url: proxy.url, prefix, clock: new SystemClock(), onError: (err, topic) => errors.push({ err, topic }) });
    try {
      const seen: string[] = [];
      await backends.bus.subscribe('session.live', (p) => void seen.push(p.session_id));
      await backends.bus.publish('session.live', { session_id: 'before', at: 't' });
      await waitFor(() => expect(seen).toEqual(['before']));

      for (const outage of [1, 2]) {
        proxy.cut();
        await waitFor(async () => {
          await expect(backends.presence.touch('room', 'a', 1000)).rejects.toBeInstanceOf(DependencyUnavailableError);
        });
        await expect(backends.rateLimits.hit('k', 1000)).rejects.toMatchObject({ dependency: 'cache' });
        await expect(backends.bus.publish('session.live', { session_id: 'lost', at: 't' })).rejects.toMatchObject({ dependency: 'queue' });
        await expect(backends.bus.ping()).rejects.toBeInstanceOf(DependencyUnavailableError);
        // Let both connections fail several reconnect attempts: still one report per connection.
        const attempts = proxy.attempts;
        await waitFor(() => expect(proxy.attempts).toBeGreaterThanOrEqual(attempts + 4), 20_000);
        expect(errors.filter((e) => e.topic.startsWith('redis:'))).toHaveLength(outage * 2);

        proxy.restore();
        await waitFor(async () => {
          await backends.bus.publish('session.live', { session_id: `after-${outage}`, at: 't' });
          expect(seen).toContain(`after-${outage}`);
        }, 20_000);
        expect((await backends.presence.touch('room', 'a', 1000)).admitted).toBe(true);
        await expect(backends.bus.ping()).resolves.toBeUndefined();
      }
      expect(seen).not.toContain('lost');
    } finally {
      await backends.close();
      await proxy.close();
    }
  }, 30_000);
});
