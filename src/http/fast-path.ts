import proxyAddr from '@fastify/proxy-addr';
import type { FastifyBaseLogger, preParsingHookHandler } from 'fastify';
import { createServer, type IncomingMessage, type RequestListener, type Server, type ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import type { Logger } from 'pino';
import type { RateLimitStore } from '../core/ports/rate-limit-store.js';
import { rateLimitKey } from './rate-limit.js';
import { requestIdOf } from './request-id.js';

/**
 * A JSON POST route that a hot, in-memory answer can serve without Fastify's per-request machinery.
 * The Fastify route of the same method and URL stays the reference: it is in the OpenAPI document,
 * and it answers everything the fast path declines (bad JSON, wrong shape, wrong content type, a body
 * over the limit, rate limiting, CORS requests, shutdown) with the project's problem documents.
 */
export interface FastRoute {
  url: string;
  /** Log lines carry it, as the Fastify route's child logger would. */
  service: string;
  /** Largest body the fast path reads; anything declared larger goes to Fastify (413). */
  maxBodyBytes: number;
  /** The same per-client limit the Fastify route declares (`config.rateLimit`), counted in the same store key. */
  rateLimit?: { max: number; windowMs: number };
  /** Request lines at debug (the Fastify route's `quietLog`), else at info. */
  quiet: boolean;
  /**
   * Optional: reads the body's one common shape straight from its bytes, cheaper than JSON.parse, and
   * returns what JSON.parse would have; undefined for anything else, which JSON.parse then reads. It
   * must be exact: accept only bytes that JSON.parse reads to the value it returns.
   */
  parse?(body: Buffer): unknown;
  /**
   * The serialized answer (a string is a 200), or null when the request is not plainly valid: Fastify
   * then answers it, problem documents and all. Must not throw for any JSON value.
   */
  answer(body: unknown, req: IncomingMessage): FastAnswer | null | Promise<FastAnswer | null>;
}

export type FastAnswer = string | { status: number; json: string };

export interface FastPathOptions {
  rateLimits: RateLimitStore;
  trustProxy: boolean;
  /** With CORS on, requests with an Origin go to Fastify, where @fastify/cors answers them. */
  corsEnabled: boolean;
}

/** Where finished requests are logged and counted: the app's logger and HTTP metrics (http/metrics.ts). */
export interface FastPathObservers {
  log: FastifyBaseLogger;
  route: (method: string, pattern: string) => (status: number, elapsedMs: number) => void;
}

interface Declared extends FastRoute {
  record: (status: number, elapsedMs: number) => void;
  /** rateLimitKey() of this route without the client, which is appended per request. */
  keyPrefix: string;
}

type Hit = { count: number; resetInMs: number };

const JSON_TYPE = /^application\/json\s*(;\s*charset=utf-8\s*)?$/i;
const DIGITS = /^\d{1,9}$/;

/**
 * Why this exists: validate-token is called by every player and chat widget, far more often than
 * anything else, and a warm validation is a map lookup. Through Fastify each call also paid for the
 * request and reply objects, the hook runners, a child logger, the rate-limit plugin's promise chain
 * and the schema compilers: about 85 µs of CPU per request against the 31 µs of a bare Fastify route
 * (bench/README.md, validate_token). Here a request whose method, URL, headers and body are plainly
 * right is answered directly from the Node request with the same headers, the same rate limit (same
 * store, same key), the same metrics and request id; every other request is handed to Fastify intact
 * (a body already read is replayed to the route through `replayBody`).
 */
export class FastPath {
  private readonly routes = new Map<string, Declared>();
  /**
   * Requests read here and then handed to Fastify: the route's preParsing hook replays the body, and
   * the rate limiter skips those this path already counted.
   */
  private readonly preRead = new WeakMap<IncomingMessage, { body: Buffer; counted: boolean }>();
  private readonly trust: ((addr: string, i: number) => boolean) | null;
  private closing = false;
  private observers: FastPathObservers | null = null;

  /** Built before Fastify (it makes Fastify's server); `observe` completes it once the app exists. */
  constructor(private readonly o: FastPathOptions) {
    // Fastify's request.ip for `trustProxy: true`: the furthest address of X-Forwarded-For.
    this.trust = o.trustProxy ? () => true : null;
  }

  observe(observers: FastPathObservers) {
    this.observers = observers;
  }

  /** Declares a fast route; the Fastify route of the same URL must use `replayBody` as a preParsing hook. */
  add(route: FastRoute) {
    if (!this.observers) throw new Error('FastPath.observe() must come before add()');
    this.routes.set(route.url, { ...route, record: this.observers.route('POST', route.url), keyPrefix: rateLimitKey('POST', route.url, '') });
  }

  /** From Fastify's preClose on: shutdown answers (503, connection close) are Fastify's. */
  close() {
    this.closing = true;
  }

  /** The HTTP server Fastify listens on (its `serverFactory`), with Fastify's own server settings. */
  server(fastify: RequestListener, settings: { keepAliveTimeout: number }): Server {
    const server = createServer((req, res) => {
      const route = req.method === 'POST' && !this.closing && this.observers ? this.routes.get(req.url ?? '') : undefined;
      if (route && this.plain(req, route)) this.serve(route, req, res, fastify);
      else fastify(req, res);
    });
    server.keepAliveTimeout = settings.keepAliveTimeout;
    // Fastify's defaults for the server it would have made itself.
    server.requestTimeout = 0;
    server.setTimeout(0);
    return server;
  }

  /** preParsing hook of each fast route's Fastify twin: hands it the body the fast path already read. */
  readonly replayBody: preParsingHookHandler = (req, _reply, payload, done) => {
    const pre = this.preRead.get(req.raw);
    done(null, pre ? Readable.from([pre.body], { objectMode: false }) : payload);
  };

  /** For the rate-limit plugin's allowList: this request was already counted here. */
  readonly counted = (req: IncomingMessage): boolean => this.preRead.get(req)?.counted === true;

  private plain(req: IncomingMessage, route: Declared): boolean {
    const h = req.headers;
    const length = h['content-length'];
    return (
      length !== undefined && DIGITS.test(length) && Number(length) <= route.maxBodyBytes &&
      h['transfer-encoding'] === undefined && h['content-encoding'] === undefined &&
      JSON_TYPE.test(h['content-type'] ?? '') &&
      !(this.o.corsEnabled && h.origin !== undefined)
    );
  }

  private serve(route: Declared, req: IncomingMessage, res: ServerResponse, fastify: RequestListener) {
    const started = performance.now();
    const ip = this.clientIp(req);
    const chunks: Buffer[] = [];
    let body: Buffer | null = null;
    let hit: Hit | null | undefined = route.rateLimit ? undefined : null;
    // Both the body and the rate-limit verdict are needed; whichever comes last goes on.
    const proceed = () => {
      if (body === null || hit === undefined) return;
      try {
        this.finish(route, req, res, fastify, { body, hit, ip, started });
      } catch (err) {
        this.observers?.log.error({ err, url: route.url }, 'fast path failed; handing the request to the route');
        this.handOver(req, res, fastify, body, hit !== null);
      }
    };
    // Counted at once, as the plugin counts in onRequest, while the body arrives. A store outage
    // lets the request through, as the plugin is configured (skipOnError).
    if (route.rateLimit) {
      const store = this.o.rateLimits;
      const key = route.keyPrefix + ip;
      if (store.hitSync) {
        try {
          hit = store.hitSync(key, route.rateLimit.windowMs);
        } catch {
          hit = null;
        }
      } else {
        store.hit(key, route.rateLimit.windowMs).then(
          (h) => ((hit = h), proceed()),
          () => ((hit = null), proceed()),
        );
      }
    }
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
      proceed();
    });
  }

  /** Answers, or hands the request to Fastify (which counts it itself unless it was counted here). */
  private finish(route: Declared, req: IncomingMessage, res: ServerResponse, fastify: RequestListener, r: { body: Buffer; hit: Hit | null; ip: string; started: number }) {
    const counted = r.hit !== null;
    // Over the limit: Fastify's limiter counts it once more and answers the 429 problem document.
    if (r.hit && route.rateLimit && r.hit.count > route.rateLimit.max) return this.handOver(req, res, fastify, r.body, false);
    let parsed = route.parse?.(r.body);
    if (parsed === undefined) {
      const text = r.body.toString('utf8');
      // Keys that could poison a prototype are left to Fastify's parser, which refuses them (as
      // secure-json-parse, it looks for the words before parsing).
      if (text.includes('__proto__') || text.includes('constructor')) return this.handOver(req, res, fastify, r.body, counted);
      try {
        parsed = JSON.parse(text);
      } catch {
        return this.handOver(req, res, fastify, r.body, counted);
      }
    }
    const answered = (a: FastAnswer | null) => (a === null ? this.handOver(req, res, fastify, r.body, counted) : this.send(route, req, res, a, r));
    const a = route.answer(parsed, req);
    if (!(a instanceof Promise)) return answered(a);
    a.then(answered, (err: unknown) => {
      this.observers?.log.error({ err, url: route.url }, 'fast path failed; handing the request to the route');
      this.handOver(req, res, fastify, r.body, counted);
    });
  }

  private handOver(req: IncomingMessage, res: ServerResponse, fastify: RequestListener, body: Buffer, counted: boolean) {
    this.preRead.set(req, { body, counted });
    fastify(req, res);
  }

  private send(route: Declared, req: IncomingMessage, res: ServerResponse, a: FastAnswer, r: { hit: Hit | null; ip: string; started: number }) {
    const id = requestIdOf(req);
    const status = typeof a === 'string' ? 200 : a.status;
    const json = typeof a === 'string' ? a : a.json;
    const headers = ['content-type', 'application/json; charset=utf-8', 'content-length', String(Buffer.byteLength(json)), 'x-request-id', id];
    if (route.rateLimit) {
      const { max, windowMs } = route.rateLimit;
      headers.push(
        'x-ratelimit-limit', String(max),
        'x-ratelimit-remaining', String(Math.max(0, max - (r.hit?.count ?? 0))),
        'x-ratelimit-reset', String(Math.ceil((r.hit?.resetInMs ?? windowMs) / 1000)),
      );
    }
    res.writeHead(status, headers);
    res.end(json);
    const elapsed = performance.now() - r.started;
    route.record(status, elapsed);
    const log = this.observers!.log;
    // The same line, at the same level, as the Fastify twin's (http/logging.ts).
    const level = route.quiet ? 'debug' : 'info';
    if ((log as unknown as Partial<Logger>).isLevelEnabled?.(level)) {
      log.child({ request_id: id, service: route.service })[level](
        { method: 'POST', url: route.url, status, duration_ms: Math.round(elapsed * 100) / 100, remote_address: r.ip },
        'request completed',
      );
    }
  }

  private clientIp(req: IncomingMessage): string {
    if (!this.trust) return req.socket.remoteAddress ?? '';
    const all = proxyAddr.all(req, this.trust);
    return all[all.length - 1] ?? '';
  }
}
