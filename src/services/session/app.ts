import { fileURLToPath } from 'node:url';
import type { FastifyPluginAsync } from 'fastify';
import type { Registry } from 'prom-client';
import type { Config } from '../../config/config.js';
import type { Backends, TimerHandle, Unsubscribe } from '../../core/ports/index.js';
import type { onRequestAsyncHookHandler } from 'fastify';
import { apiKeyRoutes } from './api-keys/api-key.routes.js';
import type { ApiKeyService } from '../../http/api-key.service.js';
import type { ViewerAuth } from '../../http/viewer-auth/viewer-auth.js';
import { IDEMPOTENCY_RETENTION_MS, purgeIdempotencyKeys } from './idempotency.repository.js';
import { createSessionMetrics } from './session.metrics.js';
import { sessionRoutes } from './sessions/session.routes.js';
import { SessionService, viewerSet } from './sessions/session.service.js';
import { tokenRoutes } from './tokens/token.routes.js';
import type { FastPath } from '../../http/fast-path.js';
import { serviceLogger } from '../../http/logging.js';
import { TokenService } from './tokens/token.service.js';
import { viewerRoutes } from './viewers/viewer.routes.js';
import { ViewerService } from './viewers/viewer.service.js';

export const sessionMigrationsDir = fileURLToPath(new URL('./migrations/', import.meta.url));

export interface SessionServiceOptions {
  backends: Backends;
  config: Config;
  registry: Registry;
  /** Operator API keys, shared by every service of the process (built by the composition root). */
  keys: ApiKeyService;
  /** onRequest hook of operator routes. */
  operator: onRequestAsyncHookHandler;
  /** Key ring, revocations and verifier, shared with the realtime service (built by the composition root). */
  viewerAuth: ViewerAuth;
  /** Called with a freshly created first operator key (no key existed and no admin key is set). */
  onBootstrapKey?: (key: string) => void;
  /** Pre-router for validate-token (http/fast-path.ts); absent, the Fastify route answers everything. */
  fastPath?: FastPath;
}

/**
 * The session service: stream sessions and their state machine, operator API keys, viewer tokens
 * (mint, validate, refresh, revoke, JWKS) and concurrent viewers. This file is its table of contents.
 */
export const sessionService: FastifyPluginAsync<SessionServiceOptions> = async (app, { backends, config, registry, keys, operator, viewerAuth, onBootstrapKey, fastPath }) => {
  const { database: db, bus, presence, clock } = backends;
  const log = serviceLogger(app, 'session');

  const metrics = createSessionMetrics(registry, { db, presence, viewerSet });
  const sessions = new SessionService({ db, bus, presence, clock, metrics, log, metadataMaxBytes: config.sessions.metadataMaxBytes });
  const t = config.tokens;
  const { ring, revocations, verifier } = viewerAuth;
  const tokens = new TokenService({ db, clock, ring, revocations, verifier, metrics, log, cfg: t });
  const viewers = new ViewerService({ db, presence, clock, revocations, log, ttlMs: config.viewers.ttlMs });

  await ring.ensureCurrent();

  const timers: TimerHandle[] = [];
  const subscriptions: Unsubscribe[] = [];
  const report = (what: string) => (err: unknown) => log.warn({ err }, what);
  subscriptions.push(
    // ingest announces the first accepted publish; a session that already ended stays ended.
    await bus.subscribe('session.live', async (e) => {
      await sessions.goLive(e.session_id).then(
        () => log.info({ session_id: e.session_id }, 'session live'),
        (err) => log.warn({ err, session_id: e.session_id }, 'session.live ignored'),
      );
    }),
    // an ingest that ends (stopped, or its publisher never came back) ends its session; stop is idempotent.
    await bus.subscribe('ingest.ended', async (e) => {
      if (e.reason === 'session_ended') return;
      await sessions.stop(e.session_id, `ingest_${e.reason}`).then(
        () => log.info({ session_id: e.session_id }, 'session ended by its ingest'),
        (err) => log.warn({ err, session_id: e.session_id }, 'ingest.ended ignored'),
      );
    }),
  );
  timers.push(
    clock.setInterval(() => ring.ensureCurrent().catch(report('signing key rotation check failed')), Math.min(60_000, (t.signingKeyRotationSeconds * 1000) / 10)),
    clock.setInterval(() => purgeIdempotencyKeys(db, new Date(clock.now() - IDEMPOTENCY_RETENTION_MS)).catch(report('idempotency purge failed')), 3_600_000),
  );
  app.addHook('onClose', async () => {
    for (const timer of timers) timer.cancel();
    await Promise.all(subscriptions.map((u) => u().catch(() => {})));
  });

  await app.register(apiKeyRoutes, { keys, operator });
  await app.register(sessionRoutes, { sessions, operator });
  await app.register(tokenRoutes, { tokens, ring, operator, validateRatePerMinute: t.validateRatePerMinute, fastPath, bodyLimitBytes: config.bodyLimitBytes });
  await app.register(viewerRoutes, { viewers, tokens });

  const bootstrapKey = await keys.bootstrap();
  if (bootstrapKey) onBootstrapKey?.(bootstrapKey);
};
