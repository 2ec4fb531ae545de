import { afterAll, beforeAll } from 'vitest';
import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { buildApp, serviceMigrations } from '../../src/app.js';
import { createBackends } from '../../src/backends/create-backends.js';
import { migrate, readMigrations } from '../../src/backends/migrator.js';
import { PostgresDatabase } from '../../src/backends/postgres/postgres-database.js';
import { loadConfig, type Config } from '../../src/config/config.js';
import type { Backends, Clock } from '../../src/core/ports/index.js';

/** The backends a test runs on: embedded by default, PostgreSQL/Redis when DATABASE_URL/REDIS_URL are set. */
export const DATABASE_URL = process.env.DATABASE_URL?.startsWith('postgres') ? process.env.DATABASE_URL : undefined;
export const REDIS_URL = process.env.REDIS_URL || undefined;
export const ADMIN_KEY = 'test-admin-key-0123456789abcdefghijklmnop';

/** A unique namespace per test file (PostgreSQL schema, Redis prefix), so runs never collide. */
export function testNamespace(): string {
  return `t_${randomBytes(6).toString('hex')}`;
}

export interface TestApp {
  app: FastifyInstance;
  backends: Backends;
  config: Config;
  bootstrapKey: string | null;
  close(): Promise<void>;
}

/**
 * Builds the real app on real backends, like main.ts does. Pass the same `namespace` to two calls to
 * get two instances sharing one PostgreSQL schema and one Redis prefix (multi-instance tests).
 * PGlite cannot be shared between instances, so shared namespaces need DATABASE_URL.
 */
export async function createTestApp(
  opts: { env?: Record<string, string>; namespace?: string; clock?: Clock; dropSchemaOnClose?: boolean; logStream?: { write(line: string): void } } = {},
): Promise<TestApp> {
  const namespace = opts.namespace ?? testNamespace();
  const env: Record<string, string> = {
    LOG_LEVEL: opts.logStream ? 'trace' : 'silent',
    STREAMPLANE_ADMIN_KEY: ADMIN_KEY,
    DATABASE_URL: DATABASE_URL ?? 'memory://',
    STREAMPLANE_DATABASE_SCHEMA: namespace,
    STREAMPLANE_REDIS_PREFIX: `sptest:${namespace}:`,
    ...(REDIS_URL ? { REDIS_URL } : {}),
    ...opts.env,
  };
  const config = loadConfig(env, '0.0.0-test');
  const backends = await createBackends(config, { clock: opts.clock });
  for (const { service, dir } of await serviceMigrations(config)) await migrate(backends.database, await readMigrations(service, dir));
  let bootstrapKey: string | null = null;
  const app = await buildApp({ config, backends, logger: Boolean(opts.logStream), logStream: opts.logStream, onBootstrapKey: (k) => (bootstrapKey = k) });
  await app.ready();
  return {
    app,
    backends,
    config,
    bootstrapKey,
    async close() {
      await app.close();
      await backends.close();
      if (opts.dropSchemaOnClose !== false && config.database.kind === 'postgres') {
        await PostgresDatabase.dropSchema(config.database.url, namespace).catch(() => {});
      }
    },
  };
}

export const operator = (key = ADMIN_KEY) => ({ authorization: `Bearer ${key}` });

/** Polls `fn` until it returns a truthy value or the deadline passes (no fixed sleeps in tests). */
export async function eventually<T>(fn: () => Promise<T> | T, { timeoutMs = 5_000, intervalMs = 20 } = {}): Promise<NonNullable<T>> {
  const deadline = performance.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v as NonNullable<T>;
    } catch (err) {
      last = err;
    }
    if (performance.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** Multi-instance tests need both: PGlite and the memory bus are per process. */
export const SHARED_BACKENDS = Boolean(DATABASE_URL && REDIS_URL);

/**
 * Registers two instances of the app on one PostgreSQL schema and one Redis prefix (as behind a load
 * balancer) for the calling describe block: `pair.a` and `pair.b` are set in its beforeAll and closed in
 * its afterAll. Says once, with `label`, when the block is skipped for want of DATABASE_URL/REDIS_URL.
 */
export function twoInstances(label: string, env: Record<string, string> = {}): { a: TestApp; b: TestApp } {
  if (!SHARED_BACKENDS) console.warn(`[${label}] skipped: set DATABASE_URL=postgres://… and REDIS_URL=redis://… to run the multi-instance tests`);
  const pair = {} as { a: TestApp; b: TestApp };
  const ns = testNamespace();
  beforeAll(async () => {
    if (!SHARED_BACKENDS) return;
    pair.a = await createTestApp({ namespace: ns, dropSchemaOnClose: false, env });
    pair.b = await createTestApp({ namespace: ns, env });
  });
  afterAll(async () => {
    await pair.a?.close();
    await pair.b?.close();
  });
  return pair;
}
