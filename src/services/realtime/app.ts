import { fileURLToPath } from 'node:url';
import type { FastifyPluginAsync, onRequestAsyncHookHandler } from 'fastify';
import type { Registry } from 'prom-client';
import type { RealtimeConfig } from '../../config/config.js';
import type { EventName } from '../../core/events.js';
import type { Backends, TimerHandle, Unsubscribe } from '../../core/ports/index.js';
import type { OperatorKeyVerifier } from '../../http/auth.js';
import type { FastPath } from '../../http/fast-path.js';
import { serviceLogger } from '../../http/logging.js';
import { ViewerOrOperator } from '../../http/viewer-auth/viewer-or-operator.js';
import type { ViewerTokenVerifier } from '../../http/viewer-auth/viewer-token.verifier.js';
import { chatRoutes } from './chat/chat.routes.js';
import { chatSocketRoute } from './chat/chat.socket.js';
import { ChatService } from './chat/chat.service.js';
import { captionsSocketRoute } from './captions/captions.socket.js';
import { CaptionsService } from './captions/captions.service.js';
import { captionsRoutes } from './captions/captions.routes.js';
import { ReviewClient } from './chat/review.client.js';
import { eventLogRepository } from './events/event-log.repository.js';
import { Hub } from './hub/hub.js';
import type { AnySocketRoute } from './hub/socket-route.js';
import { attachUpgrades } from './hub/upgrade.js';
import { CLOSE } from './hub/close-codes.js';
import { createRealtimeMetrics } from './realtime.metrics.js';
import { eventStreamRoutes } from './events/event-stream.routes.js';
import { telemetryRoutes } from './telemetry/telemetry.routes.js';

export const realtimeMigrationsDir = fileURLToPath(new URL('./migrations/', import.meta.url));

export interface RealtimeServiceOptions {
  backends: Backends;
  config: RealtimeConfig;
  operator: onRequestAsyncHookHandler;
  /** Verifies viewer access tokens (shared with the session service). */
  viewerTokens: ViewerTokenVerifier;
  /** Operator keys (the same verifier as `operator`), for routes that take a viewer token or an operator key. */
  operatorKeys: OperatorKeyVerifier;
  registry: Registry;
  trustProxy: boolean;
  /** Answers plainly valid telemetry batches before Fastify (http/fast-path.ts). */
  fastPath?: FastPath;
}

/** The domain events the operator stream carries. */
const STREAMED: EventName[] = ['session.created', 'session.live', 'session.ended', 'ingest.started', 'ingest.failover', 'ingest.ended', 'token.revoked', 'chat.moderation'];
/** How long a live event waits for a missing predecessor before the relay reads it from the database. */
const RELAY_GAP_MS = 250;
/** How often each instance re-counts its chat users (a room's count is at most this stale). */
const CHAT_PRESENCE_MS = 5_000;
/** Time clients get to complete the 1012 closing handshake on shutdown. */
const SOCKET_CLOSE_GRACE_MS = 1_000;

/**
 * The realtime service. Today: the operator event stream (`GET /api/v1/events`), fed by recording the
 * domain events seen on the Bus into a log kept for the retention window. Chat, captions and telemetry
 * are still to come (issue 4).
 */
export const realtimeService: FastifyPluginAsync<RealtimeServiceOptions> = async (app, { backends, config, operator, operatorKeys, viewerTokens, trustProxy, registry, fastPath }) => {
  const { database: db, bus, clock, rateLimits } = backends;
  const log = serviceLogger(app, 'realtime');
  // Telemetry and captions take a viewer token or an operator key; one resolver for their hook and
  // for the telemetry fast answer.
  const callers = new ViewerOrOperator(operatorKeys, viewerTokens);

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

  // ---- sockets: chat and captions ----
  const ws = config.sockets;
  const hub = new Hub(clock, {
    pingIntervalMs: ws.pingIntervalMs,
    authSweepMs: ws.authSweepMs,
    maxConnectionsPerIp: ws.maxConnectionsPerIp,
    check(conn) {
      const v = viewerTokens.stillUsable(conn.claims);
      if (!v.valid) return v.reason === 'session_ended' ? { code: CLOSE.sessionEnded, reason: 'session ended' } : { code: CLOSE.tokenInvalid, reason: `token ${v.reason}` };
      return null;
    },
  });
  const metrics = createRealtimeMetrics(registry, () => hub);
  const chat = new ChatService({
    db, bus, clock, rateLimits, hub, log, cfg: config.chat, gapMs: RELAY_GAP_MS, messages: metrics.chatMessages,
    presence: backends.presence, presenceMs: CHAT_PRESENCE_MS,
    review: config.chat.review ? new ReviewClient(config.chat.review, clock, log) : null,
  });
  await app.register(chatRoutes, { db, chat, operator });
  const limits = { maxBufferedBytes: ws.maxBufferedBytes, maxFramesPer10s: ws.maxFramesPer10s, now: () => clock.now(), onServerClose: metrics.socketClosed };
  const gate = { hub, verifier: viewerTokens, allowedOrigins: ws.allowedOrigins };
  const socketRoutes: AnySocketRoute[] = [chatSocketRoute({ chat, hub, gate, limits, log })];
  // ---- captions: wired here (captions/) ----
  const captions = new CaptionsService({ db, bus, clock, hub, log, cfg: config.captions, gapMs: RELAY_GAP_MS });
  socketRoutes.push(captionsSocketRoute({ captions, hub, gate, limits, log }));
  subscriptions.push(await bus.subscribe('captions.cue', (e) => captions.onEvent(e)));
  await app.register(captionsRoutes, { captions, viewerOrOperator: callers.hook });
  // After preClose has closed the sockets: no relay timer may outlive the app.
  app.addHook('onClose', async () => captions.relay.close());
  // ---- end captions ----
  attachUpgrades(app, { maxPayloadBytes: ws.maxPayloadBytes, trustProxy, log }, socketRoutes);

  // A revocation or an ended session closes sockets at once (after the registry has applied it).
  const sweepSoon = () => void clock.setTimeout(() => hub.sweep(), 10);
  subscriptions.push(
    await bus.subscribe('chat.event', (e) => chat.onEvent(e)),
    await bus.subscribe('token.revoked', sweepSoon),
    await bus.subscribe('session.ended', sweepSoon),
  );
  timers.push(clock.setInterval(() => void chat.presence.tick().catch((err: unknown) => log.warn({ err }, 'chat presence refresh failed')), CHAT_PRESENCE_MS));
  timers.push(clock.setInterval(() => void chat.refreshMirrors().catch((err: unknown) => log.warn({ err }, 'chat mirror refresh failed')), ws.authSweepMs * 5));
  app.addHook('preClose', async () => {
    await hub.close(SOCKET_CLOSE_GRACE_MS);
    chat.relay.close();
  });
  await app.register(telemetryRoutes, { db, clock, registry, operator, callers, limits: config.telemetry, fastPath });
};
