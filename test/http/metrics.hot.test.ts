import { Counter, Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { HotHistogram, hotCounter } from '../../src/http/metrics.js';

// The hot metrics replace prom-client's own on the request path; a scrape must not be able to tell.
describe('hot metrics expose exactly what prom-client would', () => {
  const observations: Array<[string, number]> = [['a', 0.0004], ['a', 0.001], ['b', 0.003], ['a', 0.7], ['b', 9], ['a', 0.001]];
  const buckets = [0.001, 0.0025, 0.005, 0.01, 1, 2.5];

  it('HotHistogram: same buckets (le inclusive), sums and counts, label order and text', async () => {
    const ours = new Registry();
    const theirs = new Registry();
    const hot = new HotHistogram<'route'>({ name: 'x_seconds', help: 'h', buckets, registers: [ours] });
    const ref = new Histogram({ name: 'x_seconds', help: 'h', labelNames: ['route'], buckets, registers: [theirs] });
    for (const [route, v] of observations) {
      hot.child({ route }).observe(v);
      ref.labels({ route }).observe(v);
    }
    expect(await ours.metrics()).toBe(await theirs.metrics());
    ours.resetMetrics();
    theirs.resetMetrics();
    // prom-client forgets the series on reset, ours keeps them at zero: both count from zero again.
    hot.child({ route: 'a' }).observe(0.002);
    expect(await ours.metrics()).toMatch(/^x_seconds_bucket\{le="0.0025",route="a"\} 1$/m);
    expect(await ours.metrics()).toMatch(/^x_seconds_count\{route="a"\} 1$/m);
  });

  it('HotHistogram: asking twice for a label set gives one series', async () => {
    const r = new Registry();
    const hot = new HotHistogram<'method' | 'route'>({ name: 'y_seconds', help: 'h', buckets, registers: [r] });
    hot.child({ method: 'POST', route: '/v' }).observe(0.002);
    hot.child({ route: '/v', method: 'POST' }).observe(0.002);
    const text = await r.metrics();
    expect(text.match(/^y_seconds_count/gm)).toHaveLength(1);
    expect(text).toMatch(/^y_seconds_count\{method="POST",route="\/v"\} 2$/m);
  });

  it('hotCounter: sums reach the counter at scrape', async () => {
    const ours = new Registry();
    const theirs = new Registry();
    const hot = hotCounter({ name: 'z_total', help: 'h', labelNames: ['outcome'] as const, registers: [ours] });
    const ref = new Counter({ name: 'z_total', help: 'h', labelNames: ['outcome'], registers: [theirs] });
    for (const [o] of observations) {
      hot.child({ outcome: o }).inc();
      ref.inc({ outcome: o });
    }
    expect(await ours.metrics()).toBe(await theirs.metrics());
  });
});
