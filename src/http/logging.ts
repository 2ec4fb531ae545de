import type { FastifyBaseLogger, FastifyInstance, FastifyRequest } from 'fastify';
import type { Logger, LoggerOptions } from 'pino';
import type { Clock } from '../core/ports/clock.js';

/** Query parameters that carry credentials and must never reach a log line. */
const SECRET_NAMES = new Set(['access_token', 'token', 'refresh_token', 'key', 'api_key']);

/** Redacts credential query parameters, matching names after percent-decoding (`%61ccess_token` too). */
export function stripSecrets(url: string): string {
  // Media-server callback URLs carry the node secret in the path, and their query (nginx
  // `notify_method get`) carries the stream key as `name`: keep neither.
  if (url.includes('/ingest/hooks/')) return url.replace(/(\/ingest\/hooks\/[^/?]*\/)[^/?]*/, '$1[redacted]').replace(/\?.*$/, '?[redacted]');
  const q = url.indexOf('?');
  if (q < 0) return url;
  const params = url.slice(q + 1).split('&').map((pair) => {
    const eq = pair.indexOf('=');
    const rawName = eq < 0 ? pair : pair.slice(0, eq);
    let name = rawName;
    try {
      name = decodeURIComponent(rawName.replace(/\+/g, ' '));
    } catch {
      /* undecodable: compare as is */
    }
    return SECRET_NAMES.has(name.toLowerCase()) ? `${rawName}=[redacted]` : pair;
  });
  return `${url.slice(0, q)}?${params.join('&')}`;
}

const SECRET_KEYS = new Set(['authorization', 'cookie', 'sec-websocket-protocol', 'token', 'access_token', 'refresh_token', 'api_key', 'key', 'secret', 'password']);
const MAX_REDACT_DEPTH = 4;

/** Replaces the values of credential-named fields in plain objects (and arrays) up to a few levels deep. */
export function redactSecrets(obj: Record<string, unknown>, depth = 0): Record<string, unknown> {
  let out: Record<string, unknown> | null = null;
  for (const [k, v] of Object.entries(obj)) {
    let next = v;
    if (SECRET_KEYS.has(k.toLowerCase()) && v !== undefined) next = '[redacted]';
    else if (depth < MAX_REDACT_DEPTH && v !== null && typeof v === 'object') {
      const proto = Object.getPrototypeOf(v);
      if (Array.isArray(v)) next = v.map((item) => (item !== null && typeof item === 'object' && Object.getPrototypeOf(item) === Object.prototype ? redactSecrets(item as Record<string, unknown>, depth + 1) : item));
      else if (proto === Object.prototype || proto === null) next = redactSecrets(v as Record<string, unknown>, depth + 1);
    }
    if (next !== v) (out ??= { ...obj })[k] = next;
  }
  return out ?? obj;
}

/**
 * JSON lines with `timestamp`, `service`, `level`, `message`, `request_id`; services add `session_id` /
 * `user_id` with child loggers. Credentials are redacted by path, and URLs lose secret query params.
 */
export function loggerOptions(level: string, clock: Clock): LoggerOptions {
  return {
    level,
    messageKey: 'message',
    base: undefined,
    // Service plugins bind their own `service`; everything else is the shared HTTP layer.
    mixin: (_obj: object, _level: number, logger: { bindings(): Record<string, unknown> }) => (logger.bindings().service ? {} : { service: 'streamplane' }),
    timestamp: () => `,"timestamp":"${new Date(clock.now()).toISOString()}"`,
    // Redaction happens here, when a line is written, and not through pino's `redact`, which also
    // re-processes the bindings of every child logger: that cost ~10 % of the hottest route's CPU.
    formatters: { level: (label: string) => ({ level: label }), log: redactSecrets },
    serializers: {
      req: (req: { method: string; url: string; ip?: string; headers?: Record<string, unknown> }) => ({
        method: req.method,
        url: stripSecrets(req.url),
        remote_address: req.ip,
        user_agent: req.headers?.['user-agent'],
      }),
      res: (res: { statusCode: number }) => ({ status: res.statusCode }),
    },
  };
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Hot or noisy route (validation, heartbeats, health): its request lines are logged at debug. */
    quietLog?: boolean;
  }
}

/**
 * One line per finished request: method, URL without credentials, status and duration. Quiet routes log
 * at debug, 5xx at error (the error handler has already logged the cause), everything else at info.
 */
export function logRequest(req: FastifyRequest, status: number, elapsedMs: number, quiet: boolean) {
  const level = status >= 500 ? 'error' : quiet ? 'debug' : 'info';
  // With the logger off (tests), Fastify's stand-in logger has no isLevelEnabled.
  if ((req.log as unknown as Partial<Logger>).isLevelEnabled?.(level)) {
    req.log[level]({ method: req.method, url: stripSecrets(req.url), status, duration_ms: Math.round(elapsedMs * 100) / 100, remote_address: req.ip }, 'request completed');
  }
}

/**
 * A service plugin's logger (`service` bound), which is also the parent of the one per-request logger
 * Fastify creates for the plugin's routes, so their request lines say the service too, as the fast
 * path's lines do (fast-path.ts). Bound there rather than by a hook doing req.log.child: a second
 * child per request cost ~40 µs on every call of the hottest route.
 */
export function serviceLogger(app: FastifyInstance, service: string): FastifyBaseLogger {
  const log = app.log.child({ service });
  app.setChildLoggerFactory((_logger, bindings, opts) => log.child(bindings, opts));
  return log;
}
