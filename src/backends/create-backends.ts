import { mkdir } from 'node:fs/promises';
import type { Config } from '../config/config.js';
import type { Backends, Clock, Database } from '../core/ports/index.js';
import { MemoryBus } from './memory/memory-bus.js';
import { MemoryPresence } from './memory/memory-presence.js';
import { MemoryRateLimitStore } from './memory/memory-rate-limit-store.js';
import { SystemClock } from './system-clock.js';

export interface BackendOptions {
  /** Tests pass a ManualClock; production uses the system clock. */
  clock?: Clock;
  /** Where asynchronous backend errors (a failing bus handler, a Redis outage) are reported. */
  onError?: (err: unknown, where: string) => void;
}

/** The one place that picks implementations of the ports from configuration. */
export async function createBackends(config: Pick<Config, 'database' | 'redis'>, opts: BackendOptions = {}): Promise<Backends> {
  const clock = opts.clock ?? new SystemClock();
  const onError = opts.onError ?? (() => {});
  const database = await openDatabase(config.database);
  try {
    if (config.redis) {
      // Loaded only when configured: the embedded start-up does not pay for pg and ioredis.
      const { createRedisBackends } = await import('./redis/redis-backends.js');
      const redis = await createRedisBackends({ url: config.redis.url, prefix: config.redis.prefix, clock, onError });
      return {
        database,
        bus: redis.bus,
        presence: redis.presence,
        rateLimits: redis.rateLimits,
        clock,
        cacheKind: 'redis',
        async close() {
          await redis.close();
          await database.close();
        },
      };
    }
    const bus = new MemoryBus({ onError });
    const presence = new MemoryPresence(clock);
    const rateLimits = new MemoryRateLimitStore(clock);
    return {
      database,
      bus,
      presence,
      rateLimits,
      clock,
      cacheKind: 'memory',
      async close() {
        await bus.close();
        await presence.close();
        await rateLimits.close();
        await database.close();
      },
    };
  } catch (err) {
    await database.close();
    throw err;
  }
}

async function openDatabase(db: Config['database']): Promise<Database> {
  if (db.kind === 'postgres') {
    const { PostgresDatabase } = await import('./postgres/postgres-database.js');
    return PostgresDatabase.open({ url: db.url, schema: db.schema });
  }
  if (db.dataDir) {
    // A new directory starts as a copy of the initdb template made at install, when there is one.
    const { seedFromTemplate } = await import('./pglite/pglite-template.js');
    if (!(await seedFromTemplate(db.dataDir).catch(() => false))) await mkdir(db.dataDir, { recursive: true });
  }
  const { PgliteThreadDatabase } = await import('./pglite/pglite-thread-database.js');
  return PgliteThreadDatabase.open({ dataDir: db.dataDir ?? undefined });
}
