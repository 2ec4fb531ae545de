import { fileURLToPath } from 'node:url';
import type { FastifyPluginAsync, onRequestAsyncHookHandler } from 'fastify';
import type { Registry } from 'prom-client';
import type { RealtimeConfig } from '../../config/config.js';
import type { EventName } from '../../core/events.js';
import type { Backends, TimerHandle, Unsubscribe } from '../../core/ports/index.js';
import type { ViewerTokenVerifier } from '../../http/viewer-auth/viewer-token.verifier.js';
import { eventLogRepository } from './events/event-log.repository.js';
import { eventStreamRoutes } from './events/event-stream.routes.js';

export const realtimeMigrationsDir = fileURLToPath(new URL('./migrations/', import.meta.url));

export interface RealtimeServiceOptions {
  backends: Backends;
  config: RealtimeConfig;
  operator: onRequestAsyncHookHandler;
  /** Verifies viewer access tokens (shared with the session service). */
  viewerTokens: ViewerTokenVerifier;
  /** onRequest hook of routes that take a viewer token or an operator key (sets request.viewer or request.operator). */
  viewerOrOperator: onRequestAsyncHookHandler;
  registry: Registry;
  trustProxy: boolean;
}

/** The domain events the operator stream carries. */
const STREAMED: EventName[] = ['session.created', 'session.live', 'session.ended', 'ingest.started', 'ingest.failover', 'ingest.ended', 'token.revoked'];

/**
 * The realtime service. Today: the operator event stream (`GET /api/v1/events`), fed by recording the
 * domain events seen on the Bus into a log kept for the retention window. Chat, captions and telemetry
 * are still to come (issue 4).
 */
export const realtimeService: FastifyPluginAsync<RealtimeServiceOptions> = async (app, { backends, config, operator }) => {
  const { database: db, bus, clock } = backends;
  const log = app.log.child({ service: 'realtime' });

  // Every instance records what it sees; the log's dedupe key keeps one row per event. The Bus is
  // at-most-once, so an event published while no realtime instance listened is not in the log.
  const subscriptions: Unsubscribe[] = await Promise.all(
    STREAMED.map((topic) => bus.subscribe(topic, (payload) => eventLogRepository.append(db, topic, payload).catch((err: unknown) => log.warn({ err, topic }, 'event not recorded')))),
  );
  const purge = () => eventLogRepository.purge(db, new Date(clock.now() - config.eventRetentionSeconds * 1000)).catch((err: unknown) => log.warn({ err }, 'event log purge failed'));
  const timers: TimerHandle[] = [clock.setInterval(() => void purge(), Math.min(3_600_000, config.eventRetentionSeconds * 1000))];
  app.addHook('onClose', async () => {
    for (const t of timers) t.cancel();
    await Promise.all(subscriptions.map((u) => u().catch(() => {})));
  });

  await app.register(eventStreamRoutes, { db, clock, operator, pollMs: config.eventStreamPollMs });
};
