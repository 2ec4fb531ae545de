import type { LoggerOptions } from 'pino';
import type { Clock } from '../core/ports/clock.js';

/** Query parameters that carry credentials and must never reach a log line. */
const SECRET_NAMES = new Set(['access_token', 'token', 'refresh_token', 'key', 'api_key']);

/** Redacts credential query parameters, matching names after percent-decoding (`%61ccess_token` too). */
export function stripSecrets(url: string): string {
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
    formatters: { level: (label: string) => ({ level: label }) },
    redact: {
      paths: [
        'req.headers.authorization', 'req.headers.cookie', 'req.headers["sec-websocket-protocol"]',
        'token', 'access_token', 'refresh_token', 'api_key', 'key', 'secret', 'password',
        '*.token', '*.access_token', '*.refresh_token', '*.api_key', '*.secret', '*.password',
      ],
      censor: '[redacted]',
    },
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
