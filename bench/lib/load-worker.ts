import autocannon from 'autocannon';
import { readFileSync } from 'node:fs';
import type { LoadSpec } from './load.js';

/**
 * The load generator, in its own process (pinned to its own CPU by the parent): runs one autocannon
 * pass described by the JSON file named in argv[2] and prints two JSON lines on stdout, `started` when
 * the connections are set up, then the result.
 */
const spec = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as LoadSpec;
const bodies: string[] | null = spec.bodiesFile ? (JSON.parse(readFileSync(spec.bodiesFile, 'utf8')) as string[]) : null;

/**
 * Rotation without a per-request cost in the generator: connection k gets the bodies k, k+C, k+2C…
 * (C connections) as its own request list, built into buffers once (Client#setRequests), and cycles
 * through them. All bodies are in flight at once and each is sent in turn. A `setupRequest` callback
 * would rebuild the request buffer on every request (≈ 5–15 µs here), making the generator the
 * bottleneck before a 50k req/s server is.
 */
let clients = 0;
const base: autocannon.Request = { method: spec.method, path: spec.path, headers: spec.headers };
const setupClient = (client: autocannon.Client) => {
  const k = clients++ % spec.connections;
  const mine = bodies!.filter((_, i) => i % spec.connections === k);
  client.setRequests(mine.map((body) => ({ ...base, body })));
};

const request: autocannon.Request = { ...base, ...(spec.body !== undefined ? { body: spec.body } : bodies ? { body: bodies[0]! } : {}) };

const instance = autocannon(
  {
    url: spec.url,
    connections: spec.connections,
    ...(spec.amount ? { amount: spec.amount } : { duration: spec.durationS }),
    pipelining: 1,
    timeout: 10,
    requests: [request],
    ...(bodies ? { setupClient } : {}),
  },
  (err, result) => {
    if (err) {
      process.stdout.write(`${JSON.stringify({ event: 'error', error: String(err) })}\n`);
      process.exitCode = 1;
      return;
    }
    const r = result;
    const statusCounts: Record<string, number> = {};
    for (const [code, s] of Object.entries(r.statusCodeStats ?? {})) statusCounts[code] = s.count ?? 0;
    process.stdout.write(
      `${JSON.stringify({
        event: 'result',
        result: {
          duration_s: r.duration,
          requests_total: r.requests.total,
          req_per_s: Math.round(r.requests.total / r.duration),
          req_per_s_per_second_samples: { mean: r.requests.average, stddev: r.requests.stddev, min: r.requests.min, max: r.requests.max },
          latency_ms: { p50: r.latency.p50, p90: r.latency.p90, p99: r.latency.p99, max: r.latency.max, mean: r.latency.average },
          non_2xx: r.non2xx,
          errors: r.errors,
          timeouts: r.timeouts,
          status_counts: statusCounts,
          bytes_per_s: Math.round(r.throughput.average),
        },
      })}\n`,
    );
  },
);
instance.once('start', () => process.stdout.write(`${JSON.stringify({ event: 'started' })}\n`));
