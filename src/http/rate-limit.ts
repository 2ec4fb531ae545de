import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance } from 'fastify';
import { AppError } from '../core/errors.js';
import type { RateLimitStore } from '../core/ports/rate-limit-store.js';

/**
 * @fastify/rate-limit over our RateLimitStore port, so limits are shared through Redis when it is
 * configured and kept in memory otherwise. Routes opt in with `config: { rateLimit: { max, timeWindow } }`.
 * When the store is unreachable the request is let through (skipOnError): a Redis outage must not
 * take validation down with it.
 */
export async function registerRateLimits(app: FastifyInstance, store: RateLimitStore) {
  class PortStore {
    constructor(private readonly prefix = '') {}
    incr(key: string, cb: (err: Error | null, res?: { current: number; ttl: number }) => void, timeWindow: number) {
      store.hit(`ratelimit:${this.prefix}${key}`, timeWindow).then(
        (r) => cb(null, { current: r.count, ttl: r.resetInMs }),
        (err: Error) => cb(err),
      );
    }
    /** One counter per route: the plugin hands each route's options here with the route under `routeInfo`. */
    child(params: { routeInfo?: { url?: string; method?: string | string[] } }) {
      const r = params.routeInfo ?? {};
      return new PortStore(`${String(r.method ?? '')}:${r.url ?? ''}:`);
    }
  }
  await app.register(rateLimit, {
    global: false,
    store: PortStore as never,
    skipOnError: true,
    errorResponseBuilder: (_req, ctx) => new AppError(429, 'rate_limited', `Too many requests from this client: the limit is ${ctx.max} per ${ctx.after}; retry later.`),
  });
}
