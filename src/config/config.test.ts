import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './config.js';

describe('loadConfig', () => {
  it('defaults to PGlite in ./.streamplane, memory bus, all services, port 8080', () => {
    const c = loadConfig({});
    expect(c.port).toBe(8080);
    expect(c.database).toMatchObject({ kind: 'pglite' });
    expect((c.database as { dataDir: string }).dataDir).toMatch(/\.streamplane$/);
    expect(c.redis).toBeNull();
    expect(c.services).toEqual(['session', 'ingest', 'realtime']);
    expect(c.shutdownTimeoutMs).toBe(20_000);
    expect(c.keepAliveTimeoutMs).toBeGreaterThan(60_000);
  });

  it('switches backends by URL', () => {
    expect(loadConfig({ DATABASE_URL: 'memory://' }).database).toEqual({ kind: 'pglite', dataDir: null });
    expect(loadConfig({ DATABASE_URL: 'postgres://u@h/db', REDIS_URL: 'redis://h:6379' })).toMatchObject({
      database: { kind: 'postgres', url: 'postgres://u@h/db', schema: 'public' },
      redis: { url: 'redis://h:6379', prefix: 'streamplane:' },
    });
  });

  it('reports every problem at once, naming each variable, without echoing secrets', () => {
    let err: unknown;
    try {
      loadConfig({ PORT: 'x', DATABASE_URL: 'mysql://user:hunter2@h/db', STREAMPLANE_SERVICES: 'session,nope', STREAMPLANE_ADMIN_KEY: 'too-short-secret', STREAMPLANE_VIEWER_TTL_MS: '-5' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const msg = (err as ConfigError).message;
    for (const name of ['PORT', 'DATABASE_URL', 'STREAMPLANE_SERVICES', 'STREAMPLANE_ADMIN_KEY', 'STREAMPLANE_VIEWER_TTL_MS']) expect(msg).toContain(name);
    expect((err as ConfigError).problems).toHaveLength(5);
    expect(msg).not.toContain('hunter2');
    expect(msg).not.toContain('too-short-secret');
  });
});
