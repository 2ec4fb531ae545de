import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance } from 'fastify';
import type { IncomingMessage } from 'node:http';
import { AppError } from '../core/errors.js';
import type { RateLimitStore } from '../core/ports/rate-limit-store.js';

/** The store key of one client's counter on one route (the fast path counts in the same one). */
export const rateLimitKey = (method: string, url: string, client: string) => `ratelimit:${method}:${url}:${client}`;

/**
 * @fastify/rate-limit over our RateLimitStore port, so limits are shared through Redis when it is
 * configured and kept in memory otherwise. Routes opt in with `config: { rateLimit: { max, timeWindow } }`.
 * When the store is unreachable the request is let through (skipOnError): a Redis outage must not
 * take validation down with it.
 *
 * `alreadyCounted`: requests the fast path (fast-path.ts) counted before handing them over; the plugin
 * lets them through instead of counting them twice.
 */
export async function registerRateLimits(app: FastifyInstance, store: RateLimitStore, alreadyCounted: (raw: IncomingMessage) => boolean = () => false) {
  class PortStore {
    constructor(private readonly route: { method: string; url: string } = { method: '', url: '' }) {}
    incr(key: string, cb: (err: Error | null, res?: { current: number; ttl: number }) => void, timeWindow: number) {
      store.hit(rateLimitKey(this.route.method, this.route.url, key), timeWindow).then(
        (r) => cb(null, { current: r.count, ttl: r.resetInMs }),
        (err: Error) => cb(err),
      );
    }
    /** One counter per route: the plugin hands each route's options here with the route under `routeInfo`. */
    child(params: { routeInfo?: { url?: string; method?: string | string[] } }) {
      const r = params.routeInfo ?? {};
      return new PortStore({ method: String(r.method ?? ''), url: r.url ?? '' });
    }
  }
  await app.register(rateLimit, {
    global: false,
    store: PortStore as never,
    skipOnError: true,
    allowList: (req) => alreadyCounted(req.raw),
    errorResponseBuilder: (_req, ctx) => new AppError(429, 'rate_limited', `Too many requests from this client: the limit is ${ctx.max} per ${ctx.after}; retry later.`),
  });
}
