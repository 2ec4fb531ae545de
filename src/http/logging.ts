import type { FastifyServerOptions } from 'fastify';
import type { Clock } from '../core/ports/clock.js';

/** Query parameters that carry credentials and must never reach a log line. */
const SECRET_PARAMS = /([?&](?:access_token|token|refresh_token|key|api_key)=)[^&]*/gi;
export const stripSecrets = (url: string) => url.replace(SECRET_PARAMS, '$1[redacted]');

/**
 * JSON lines with `timestamp`, `service`, `level`, `message`, `request_id`; services add `session_id` /
 * `user_id` with child loggers. Credentials are redacted by path, and URLs lose secret query params.
 */
export function loggerOptions(level: string, clock: Clock): NonNullable<FastifyServerOptions['logger']> {
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
