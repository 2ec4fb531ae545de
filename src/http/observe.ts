import type { FastifyInstance, FastifyReply, FastifyRequest, onResponseHookHandler } from 'fastify';
import type { Registry } from 'prom-client';
import { logRequest } from './logging.js';
import { createHttpMetrics, registerMetricsRoute } from './metrics.js';

/**
 * Per-request metrics and the request log line, from one onResponse hook per route. The hook is built
 * when the route is declared, so it already knows the route pattern and whether the route is quiet:
 * reading `request.routeOptions` per request builds a fresh object each time, which showed up as ~7 %
 * of the validate-token route's CPU. Requests that match no route are observed by one global hook.
 */
export function registerObservability(app: FastifyInstance, registry: Registry) {
  const metrics = createHttpMetrics(registry);
  const observer = (route: string, quiet: boolean) => {
    // One recorder per method (a route may answer several, HEAD beside GET).
    const recorders = new Map<string, (status: number, elapsedMs: number) => void>();
    return (req: FastifyRequest, reply: FastifyReply) => {
      let record = recorders.get(req.method);
      if (!record) recorders.set(req.method, (record = metrics.route(req.method, route)));
      record(reply.statusCode, reply.elapsedTime);
      logRequest(req, reply.statusCode, reply.elapsedTime, quiet);
    };
  };
  app.addHook('onRoute', (route) => {
    const observe = observer(route.url, Boolean(route.config?.quietLog));
    const hook: onResponseHookHandler = function observeRoute(req, reply, done) {
      observe(req, reply);
      done();
    };
    route.onResponse = route.onResponse ? [...[route.onResponse].flat(), hook] : [hook];
  });
  const unmatched = observer('unmatched', false);
  app.addHook('onResponse', (req, reply, done) => {
    if (req.is404) unmatched(req, reply);
    done();
  });
  registerMetricsRoute(app, registry);
  // Requests answered outside Fastify (fast-path.ts) are counted by the same metrics.
  return metrics;
}
