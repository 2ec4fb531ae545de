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
  const observe = (req: FastifyRequest, reply: FastifyReply, route: string, quiet: boolean) => {
    metrics.record(req.method, route, reply.statusCode, reply.elapsedTime);
    logRequest(req, reply.statusCode, reply.elapsedTime, quiet);
  };
  const observer = (route: string, quiet: boolean): onResponseHookHandler =>
    function observeRoute(req, reply, done) {
      observe(req, reply, route, quiet);
      done();
    };
  app.addHook('onRoute', (route) => {
    const hook = observer(route.url, Boolean(route.config?.quietLog));
    route.onResponse = route.onResponse ? [...[route.onResponse].flat(), hook] : [hook];
  });
  app.addHook('onResponse', (req, reply, done) => {
    if (req.is404) observe(req, reply, 'unmatched', false);
    done();
  });
  registerMetricsRoute(app, registry);
}
