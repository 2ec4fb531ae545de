import type { FastifyInstance } from 'fastify';
import { Counter, Registry, collectDefaultMetrics, type Metric } from 'prom-client';

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

/**
 * A Prometheus histogram for hot paths, exposed in prom-client's registry like its own Histogram: a
 * child's `observe` adds to plain numbers (prom-client's child re-validates and re-hashes its labels on
 * every observation, about half a microsecond per request on validate-token). Exact at every scrape.
 */
export class HotHistogram<L extends string> {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  readonly name: string;
  readonly help: string;
  private readonly buckets: readonly number[];
  private readonly children = new Map<string, { labels: Record<L, string>; counts: number[]; sum: number; count: number }>();

  constructor(opts: { name: string; help: string; buckets: readonly number[]; registers: Registry[] }) {
    this.name = opts.name;
    this.help = opts.help;
    this.buckets = [...opts.buckets].sort((a, b) => a - b);
    // prom-client's registry only calls name, help, type, aggregator, get() and reset() of a metric.
    for (const r of opts.registers) r.registerMetric(this as unknown as Metric);
  }

  /** The recorder of one label set (the same series however often it is asked for): keep it. */
  child(labels: Record<L, string>): { observe(value: number): void } {
    const key = JSON.stringify(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : 1)));
    let c = this.children.get(key);
    if (!c) this.children.set(key, (c = { labels, counts: new Array<number>(this.buckets.length).fill(0), sum: 0, count: 0 }));
    const series = c;
    const bounds = this.buckets;
    return {
      observe: (value: number) => {
        let i = 0;
        while (i < bounds.length && value > bounds[i]!) i++;
        if (i < bounds.length) series.counts[i]!++;
        series.sum += value;
        series.count++;
      },
    };
  }

  async get() {
    const values: Array<{ labels: Record<string, string | number>; value: number; metricName: string }> = [];
    for (const c of this.children.values()) {
      let cumulative = 0;
      this.buckets.forEach((le, i) => {
        cumulative += c.counts[i]!;
        values.push({ labels: { le, ...c.labels }, value: cumulative, metricName: `${this.name}_bucket` });
      });
      values.push({ labels: { le: '+Inf', ...c.labels }, value: c.count, metricName: `${this.name}_bucket` });
      values.push({ labels: c.labels, value: c.sum, metricName: `${this.name}_sum` });
      values.push({ labels: c.labels, value: c.count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }

  reset() {
    for (const c of this.children.values()) {
      c.counts.fill(0);
      c.sum = 0;
      c.count = 0;
    }
  }
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
  const latency = new HotHistogram<'method' | 'route'>({
    name: 'streamplane_http_request_duration_seconds',
    help: 'HTTP request latency by route.',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  /** The recorder of one route: its label children per status are made once (hashing labels per request cost). */
  const route = (method: string, pattern: string) => {
    const latencyChild = latency.child({ method, route: pattern });
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
