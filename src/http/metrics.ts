import type { FastifyInstance } from 'fastify';
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * One prom-client Registry per app instance (no global registry: two apps in one test process must not
 * share counters). Services register their own metrics on `app.metrics`.
 */
export function createMetricsRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'streamplane_' });
  return registry;
}

/** HTTP request metrics: call `record` once per finished request with the route *pattern*. */
export function createHttpMetrics(registry: Registry) {
  const requests = new Counter({
    name: 'streamplane_http_requests_total',
    help: 'HTTP requests by route and status code.',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [registry],
  });
  const errors = new Counter({
    name: 'streamplane_http_errors_total',
    help: 'HTTP responses with status >= 400 by route and status code.',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [registry],
  });
  const latency = new Histogram({
    name: 'streamplane_http_request_duration_seconds',
    help: 'HTTP request latency by route.',
    labelNames: ['method', 'route'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  // Label children are cached per (method, route, status): prom-client would otherwise hash the label
  // set on every observation of every request.
  const children = new Map<string, { requests: ReturnType<typeof requests.labels>; errors: ReturnType<typeof errors.labels> | null; latency: ReturnType<typeof latency.labels> }>();
  return {
    record(method: string, route: string, status: number, elapsedMs: number) {
      const key = `${method} ${status} ${route}`;
      let c = children.get(key);
      if (!c) {
        const s = String(status);
        c = {
          requests: requests.labels({ method, route, status: s }),
          errors: status >= 400 ? errors.labels({ method, route, status: s }) : null,
          latency: latency.labels({ method, route }),
        };
        children.set(key, c);
      }
      c.requests.inc();
      c.errors?.inc();
      c.latency.observe(elapsedMs / 1000);
    },
  };
}

export function registerMetricsRoute(app: FastifyInstance, registry: Registry) {
  app.get('/metrics', { schema: { hide: true }, config: { quietLog: true } }, async (_req, reply) => {
    reply.type(registry.contentType);
    return registry.metrics();
  });
}
