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

// One counter shared by every connection: consecutive requests carry consecutive bodies, so the whole
// list is cycled through in order however the connections interleave.
let next = 0;
const rotate = (req: autocannon.Request): autocannon.Request => {
  req.body = bodies![next++ % bodies!.length]!;
  return req;
};

const request: autocannon.Request = {
  method: spec.method,
  path: spec.path,
  headers: spec.headers,
  ...(bodies ? { setupRequest: rotate } : spec.body !== undefined ? { body: spec.body } : {}),
};

const instance = autocannon(
  {
    url: spec.url,
    connections: spec.connections,
    duration: spec.durationS,
    pipelining: 1,
    timeout: 10,
    requests: [request],
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
