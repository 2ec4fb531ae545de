import cors from '@fastify/cors';
import Fastify, { LogController, type FastifyInstance } from 'fastify';
import type { Config } from './config/config.js';
import type { Backends } from './core/ports/index.js';
import { registerHealth } from './http/health.js';
import { loggerOptions } from './http/logging.js';
import { createMetricsRegistry } from './http/metrics.js';
import { registerObservability } from './http/observe.js';
import { registerOpenApi } from './http/openapi.js';
import { problemFromError, registerProblemHandlers, sendProblem } from './http/problem.js';
import { registerRateLimits } from './http/rate-limit.js';
import { FastPath } from './http/fast-path.js';
import { requestIdOf } from './http/request-id.js';
import { validatorCompilersFactory } from './http/validation.js';
import { ApiKeyService } from './http/api-key.service.js';
import { requireOperator } from './http/auth.js';
import { startViewerAuth } from './http/viewer-auth/viewer-auth.js';
import { ingestService } from './services/ingest/app.js';
import { realtimeService } from './services/realtime/app.js';
import { sessionService } from './services/session/app.js';

export interface BuildAppOptions {
  config: Config;
  backends: Backends;
  onBootstrapKey?: (key: string) => void;
  /** Tests silence the logger; production logs JSON lines to stdout. */
  logger?: boolean;
  /** Where log lines go instead of stdout (tests capture them). */
  logStream?: { write(line: string): void };
}

/**
 * Composes the shared HTTP layer and the services named in `config.services` into one Fastify app on
 * one port. The backends are the caller's: it created them, it closes them after `app.close()`.
 */
export async function buildApp({ config, backends, onBootstrapKey, logger = true, logStream }: BuildAppOptions): Promise<FastifyInstance> {
  // validate-token is answered before Fastify when the request is plainly right (http/fast-path.ts).
  const fastPath = new FastPath({ rateLimits: backends.rateLimits, trustProxy: config.trustProxy, corsEnabled: config.corsOrigins.length > 0 });
  const app = Fastify({
    logger: logger ? { ...loggerOptions(config.logLevel, backends.clock), ...(logStream ? { stream: logStream } : {}) } : false,
    // One line per request, written by our onResponse hook (http/observe.ts), instead of Fastify's two.
    logController: new LogController({ requestIdLogLabel: 'request_id', disableRequestLogging: true }),
    genReqId: requestIdOf,
    // Fastify's own defaults otherwise (no request or connection timeout).
    serverFactory: (handler) => fastPath.server(handler, { keepAliveTimeout: config.keepAliveTimeoutMs }),
    bodyLimit: config.bodyLimitBytes,
    keepAliveTimeout: config.keepAliveTimeoutMs,
    trustProxy: config.trustProxy,
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    routerOptions: { maxParamLength: 200, ignoreTrailingSlash: true },
    schemaController: { compilersFactory: { buildValidator: validatorCompilersFactory } },
    // Errors the router raises before any route runs (bad percent-encoding, over-long ids) get the same
    // problem documents as everything else.
    frameworkErrors: (err, req, reply) => {
      const p = problemFromError(err, req);
      void sendProblem(reply, p.status, p.code, p.detail, p.extra);
    },
  });
  // Headers must be allowed to arrive for as long as an idle keep-alive connection may be reused.
  app.server.headersTimeout = config.keepAliveTimeoutMs + 1_000;
  // Callback-style hook: no promise per request on the hot path.
  app.addHook('onRequest', (req, reply, done) => {
    reply.header('x-request-id', req.id);
    done();
  });

  // JSON is the only body format: Fastify's built-in text/plain parser would turn a text body into a
  // validation error instead of the 415 it deserves.
  app.removeContentTypeParser('text/plain');
  registerProblemHandlers(app);
  if (config.corsOrigins.length > 0) {
    // Bearer tokens, never cookies: no credentials mode, so no cookie can ride along cross-origin.
    const any = config.corsOrigins.includes('*');
    await app.register(cors, {
      origin: any ? '*' : config.corsOrigins,
      methods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'],
      allowedHeaders: ['authorization', 'content-type', 'idempotency-key', 'last-event-id', 'x-request-id'],
      exposedHeaders: ['x-request-id', 'retry-after', 'location'],
      maxAge: 600,
    });
  }
  const registry = createMetricsRegistry();
  fastPath.observe({ log: app.log, route: registerObservability(app, registry).route });
  app.addHook('preClose', (done) => {
    fastPath.close();
    done();
  });
  await registerOpenApi(app, config.version);
  await registerRateLimits(app, backends.rateLimits, fastPath.counted);
  registerHealth(app, backends, { version: config.version, services: config.services });

  // Every service authenticates operators against the same keys (the session service's table).
  const keys = new ApiKeyService(backends.database, backends.bus, backends.clock, config.adminKey);
  const forgetRevokedKeys = await backends.bus.subscribe('api_key.revoked', (e) => keys.forget(e.key_id));
  app.addHook('onClose', async () => forgetRevokedKeys().catch(() => {}));
  const operator = requireOperator(keys.verify);
  // Viewer tokens are minted by session and verified by session and realtime: one ring, one mirror.
  const viewerAuth = config.services.some((s) => s === 'session' || s === 'realtime')
    ? await startViewerAuth(backends, config.tokens, registry, app.log)
    : null;
  if (viewerAuth) app.addHook('onClose', () => viewerAuth.close());

  if (config.services.includes('session')) {
    await app.register(sessionService, { backends, config, registry, keys, operator, viewerAuth: viewerAuth!, onBootstrapKey, fastPath });
  }
  if (config.services.includes('ingest')) {
    await app.register(ingestService, { backends, config: config.ingest, registry, operator });
  }
  if (config.services.includes('realtime')) {
    await app.register(realtimeService, {
      backends, config: config.realtime, operator, registry, trustProxy: config.trustProxy,
      viewerTokens: viewerAuth!.verifier, operatorKeys: keys.verify, fastPath,
    });
  }
  return app;
}

/** Migration folders of the services this process runs, in dependency order. */
export async function serviceMigrations(config: Config): Promise<Array<{ service: string; dir: string }>> {
  // The session schema is the foundation (operator keys, sessions): every process applies it.
  const out: Array<{ service: string; dir: string }> = [{ service: 'session', dir: (await import('./services/session/app.js')).sessionMigrationsDir }];
  if (config.services.includes('ingest')) out.push({ service: 'ingest', dir: (await import('./services/ingest/app.js')).ingestMigrationsDir });
  if (config.services.includes('realtime')) out.push({ service: 'realtime', dir: (await import('./services/realtime/app.js')).realtimeMigrationsDir });
  return out;
}
