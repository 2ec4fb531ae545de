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

/**
 * A prom-client Counter for hot paths: a child's `inc` adds to a plain number, and the sums reach the
 * Counter when it is scraped (its `collect`). prom-client's own child re-validates and re-hashes the
 * label set on every `inc`, about a microsecond each: on validate-token that was several percent of
 * the route. Values are exact at every scrape.
 */
export function hotCounter<L extends string>(opts: { name: string; help: string; labelNames: readonly L[]; registers: Registry[] }) {
  const pending: Array<{ labels: Partial<Record<L, string>>; n: number }> = [];
  const counter: Counter<L> = new Counter<L>({
    ...opts,
    collect() {
      for (const p of pending) {
        if (p.n === 0) continue;
        counter.inc(p.labels, p.n);
        p.n = 0;
      }
    },
  });
  return {
    /** One child per label set: keep it (making one is the slow part). */
    child(labels: Partial<Record<L, string>>) {
      const p = { labels, n: 0 };
      pending.push(p);
      return { inc: (n = 1) => void (p.n += n) };
    },
  };
}

/** HTTP request metrics: call `record` once per finished request with the route *pattern*. */
export function createHttpMetrics(registry: Registry) {
  const requests = hotCounter({
    name: 'streamplane_http_requests_total',
    help: 'HTTP requests by route and status code.',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [registry],
  });
  const errors = hotCounter({
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
  /** The recorder of one route: its label children per status are made once (hashing labels per request cost). */
  const route = (method: string, pattern: string) => {
    const latencyChild = latency.labels({ method, route: pattern });
    const byStatus = new Map<number, { requests: { inc(): void }; errors: { inc(): void } | null }>();
    return (status: number, elapsedMs: number) => {
      let c = byStatus.get(status);
      if (!c) {
        const s = String(status);
        c = { requests: requests.child({ method, route: pattern, status: s }), errors: status >= 400 ? errors.child({ method, route: pattern, status: s }) : null };
        byStatus.set(status, c);
      }
      c.requests.inc();
      c.errors?.inc();
      latencyChild.observe(elapsedMs / 1000);
    };
  };
  return { route };
}

export function registerMetricsRoute(app: FastifyInstance, registry: Registry) {
  app.get('/metrics', { schema: { hide: true }, config: { quietLog: true } }, async (_req, reply) => {
    reply.type(registry.contentType);
    return registry.metrics();
  });
}
