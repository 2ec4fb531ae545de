import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { Backends } from '../core/ports/index.js';

const PING_TIMEOUT_MS = 1_000;

const Check = Type.Object({
  status: Type.Union([Type.Literal('up'), Type.Literal('down')]),
  kind: Type.String(),
  latency_ms: Type.Number(),
  error: Type.Optional(Type.String()),
});
const Health = Type.Object({
  status: Type.Union([Type.Literal('ok'), Type.Literal('degraded')]),
  version: Type.String(),
  services: Type.Array(Type.String()),
  checks: Type.Object({ database: Check, cache: Check, queue: Check }),
});

/**
 * `/health` is what the load balancer probes: it stays 200 (`degraded`) through a database or Redis
 * outage, because failing it would make the balancer kill every task at once while the outage is
 * shared by all of them. `/health/ready` is for orchestrators that separate readiness: 503 while a
 * dependency is down. Both answer 503 once shutdown has begun (Fastify's return503OnClosing).
 */
export function registerHealth(app: FastifyInstance, backends: Backends, info: { version: string; services: string[] }) {
  const { clock } = backends;
  const probe = async (kind: string, ping: () => Promise<void>) => {
    const started = clock.now();
    let timer: { cancel(): void } | undefined;
    try {
      await Promise.race([
        ping(),
        new Promise<never>((_, reject) => {
          timer = clock.setTimeout(() => reject(new Error(`no answer within ${PING_TIMEOUT_MS} ms`)), PING_TIMEOUT_MS);
        }),
      ]);
      return { status: 'up' as const, kind, latency_ms: clock.now() - started };
    } catch (err) {
      return { status: 'down' as const, kind, latency_ms: clock.now() - started, error: err instanceof Error ? err.message : String(err) };
    } finally {
      timer?.cancel();
    }
  };
  const check = async () => {
    const [database, cache, queue] = await Promise.all([
      probe(backends.database.kind, () => backends.database.ping()),
      probe(backends.cacheKind, () => backends.presence.ping()),
      probe(backends.cacheKind, () => backends.bus.ping()),
    ]);
    const checks = { database, cache, queue };
    const allUp = Object.values(checks).every((c) => c.status === 'up');
    return { status: allUp ? ('ok' as const) : ('degraded' as const), version: info.version, services: info.services, checks };
  };
  const schema = { tags: ['health'], response: { 200: Health, 503: Health } };
  app.get('/health', { schema: { ...schema, summary: 'Liveness and dependency status (200 unless this process cannot serve)' }, config: { quietLog: true } }, async () => check());
  app.get('/health/ready', { schema: { ...schema, summary: 'Readiness: 503 while a required dependency is down' }, config: { quietLog: true } }, async (_req, reply) => {
    const h = await check();
    return reply.code(h.status === 'ok' ? 200 : 503).send(h);
  });
}
