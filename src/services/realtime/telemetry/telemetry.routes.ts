import type { RealtimeConfig } from '../../../config/config.js';
import type { Static } from '@sinclair/typebox';
import type { FastifyPluginAsync, onRequestAsyncHookHandler } from 'fastify';
import fastJson from 'fast-json-stringify';
import type { Registry } from 'prom-client';
import { badRequest, notFound } from '../../../core/errors.js';
import type { Clock, Database } from '../../../core/ports/index.js';
import type { FastAnswer, FastPath } from '../../../http/fast-path.js';
import type { Caller, ViewerOrOperator } from '../../../http/viewer-auth/viewer-or-operator.js';
import { SessionCache } from './session.cache.js';
import { BatchResult, EventBatch, MetricsParams, MetricsQuery, TelemetryEvent, TelemetryMetrics, type MetricsGroup } from './telemetry.schemas.js';
import { bufferMetrics, TelemetryBuffer } from './telemetry.buffer.js';
import { outcomeTally, TelemetryBatches } from './telemetry.batches.js';
import { telemetryRepository as repo, type Aggregate } from './telemetry.repository.js';
import { parseTs } from './telemetry.validator.js';

export type TelemetryLimits = RealtimeConfig['telemetry'];

interface Options {
  db: Database;
  clock: Clock;
  registry: Registry;
  operator: onRequestAsyncHookHandler;
  callers: ViewerOrOperator;
  limits: TelemetryLimits;
  /** When given, plainly valid batches are answered before Fastify (http/fast-path.ts). */
  fastPath?: FastPath;
}

const EVENTS_URL = '/api/v1/telemetry/events';

/** A view with an event this recent (by event ts) and not ended or paused is a concurrent viewer: six 10 s heartbeats. */
export const CONCURRENT_WINDOW_MS = 60_000;
const BREAKDOWN_MAX_GROUPS = 50;
/** Bounds of ?from= / ?to= that both databases store. */
const MIN_WINDOW_MS = Date.UTC(1970, 0, 1);
const MAX_WINDOW_MS = Date.UTC(9999, 11, 31);

const P = { $ref: 'Problem#' };
const tags = ['telemetry'];

const pct = (n: number, d: number) => (d > 0 ? (100 * n) / d : null);
/** Percentiles to the microsecond: interpolation leaves float noise (3849.9999999999995) otherwise. */
const us = (ms: number | null) => (ms === null ? null : Math.round(ms * 1000) / 1000);

function present(a: Aggregate) {
  return {
    views: a.views,
    unique_viewers: a.unique_viewers,
    concurrent_viewers: a.concurrent,
    video_startup_time_ms: { p50: us(a.startup_p50), p95: us(a.startup_p95), samples: a.startup_samples },
    watch_time_ms: a.watch_ms,
    playing_time_ms: a.playing_ms,
    rebuffer_time_ms: a.rebuffer_ms,
    rebuffer_count: a.rebuffer_count,
    rebuffer_percentage: pct(a.rebuffer_ms, a.watch_ms),
    rebuffer_frequency_per_minute: a.watch_ms > 0 ? a.rebuffer_count / (a.watch_ms / 60_000) : null,
    playback_failures: a.failures,
    playback_failure_percentage: pct(a.failures, a.views),
    exits_before_video_start: a.exits,
    exits_before_video_start_percentage: pct(a.exits, a.views),
    average_bitrate_bps: a.bitrate_ms > 0 ? a.bitrate_weighted / a.bitrate_ms : null,
  };
}

const EMPTY: Aggregate = {
  value: null, views: 0, unique_viewers: 0, concurrent: 0, startup_p50: null, startup_p95: null, startup_samples: 0, watch_ms: 0, playing_ms: 0,
  rebuffer_ms: 0, rebuffer_count: 0, failures: 0, exits: 0, bitrate_weighted: 0, bitrate_ms: 0,
};

/**
 * Player QoE telemetry: `POST /api/v1/telemetry/events` takes batches from players (viewer token) and
 * server-side collectors (operator key) into a per-instance write-behind buffer (telemetry.buffer.ts);
 * `GET /api/v1/telemetry/metrics/{session_id}` aggregates the stored per-view rows with Mux Data's
 * definitions (docs/telemetry.md).
 */
export const telemetryRoutes: FastifyPluginAsync<Options> = async (app, { db, clock, registry, operator, callers, limits, fastPath }) => {
  const log = app.log.child({ feature: 'telemetry' });
  const tally = outcomeTally(registry);
  const buffer = new TelemetryBuffer(db, clock, log, bufferMetrics(registry, tally.dropped_view_full), { flushMs: limits.flushMs, maxEntries: limits.bufferMaxEntries });
  const sessions = new SessionCache(db, clock);
  buffer.start();
  app.addHook('onClose', () => buffer.close());
  const batches = new TelemetryBatches({
    clock, sessions, buffer, tally, maxBatchEvents: limits.maxBatchEvents, flushMs: limits.flushMs,
    limits: { maxEventBytes: limits.maxEventBytes, maxAgeMs: limits.maxAgeSeconds * 1000, maxFutureMs: limits.maxFutureMs },
  });

  app.addSchema(TelemetryEvent);
  app.addSchema(BatchResult);
  app.addSchema(TelemetryMetrics);

  // Batches from collectors and players arrive all the time; through Fastify each also paid for the
  // request and reply objects, the hook runners and the auth hook's promise (10-35 µs of CPU, bench
  // README, telemetry). A batch that is plainly going to be taken is answered here, from the Node
  // request, with the route's own checks, intake and serializer; anything the route would refuse
  // (bad body, bad credentials, missing scope, full buffer) is handed to it before any side effect.
  const serialize = fastJson(BatchResult);
  const accepted = (r: BatchResult): FastAnswer => ({ status: 202, json: serialize(r) });
  fastPath?.add({
    url: EVENTS_URL,
    service: 'realtime',
    maxBodyBytes: limits.bodyLimitBytes,
    quiet: false,
    answer: (body, req) => {
      const events = batches.events(body);
      if (!Array.isArray(events)) return null;
      const caller = callers.callerOf(req.headers.authorization);
      const answer = (c: Caller) => {
        const viewer = c.kind === 'viewer' ? c.claims : undefined;
        if (c.kind === 'refused' || batches.admit(events, viewer) !== null) {
          callers.remember(req, c);
          return null;
        }
        const taken = batches.take(events, viewer);
        return taken instanceof Promise ? taken.then(accepted) : accepted(taken);
      };
      return caller instanceof Promise ? caller.then(answer) : answer(caller);
    },
  });

  app.post(EVENTS_URL, {
    onRequest: callers.hook,
    ...(fastPath ? { preParsing: fastPath.replayBody } : {}),
    bodyLimit: limits.bodyLimitBytes,
    // The body schema documents the format; events are checked one by one in the handler, so that a
    // bad event is rejected alone (with its reason) instead of failing the whole batch.
    validatorCompiler: () => () => true,
    schema: {
      tags,
      summary: 'Report a batch of player events (QoE); 202 with per-event rejections',
      description:
        'Authenticated by a viewer access token (every event must carry its `sid` and `sub`) or an operator API key (server-side collectors). ' +
        'A bad event is rejected alone, with its index and reason; an event_id sent twice counts once. Accepted events reach the metrics within about 5 s. ' +
        '413 when the batch has more than STREAMPLANE_TELEMETRY_MAX_BATCH_EVENTS events or the body exceeds STREAMPLANE_TELEMETRY_BODY_LIMIT_BYTES; 503 telemetry_backlog (with Retry-After) when this instance cannot buffer more.',
      security: [{ viewerToken: [] }, { operatorKey: [] }],
      body: EventBatch,
      response: { 202: { $ref: 'TelemetryBatchResult#' }, 400: P, 401: P, 403: P, 413: P, 415: P, 503: P },
    },
  }, (req, reply) => {
    // Not an async function: when every session of the batch is cached (nearly always) the answer is
    // sent without a promise and a microtask hop per request.
    const events = batches.events(req.body);
    if (!Array.isArray(events)) throw batches.refusal(events, () => {});
    const refused = batches.admit(events, req.viewer);
    if (refused) throw batches.refusal(refused, (s) => reply.header('retry-after', s));
    reply.code(202);
    return batches.take(events, req.viewer);
  });

  app.get('/api/v1/telemetry/metrics/:session_id', {
    onRequest: operator,
    schema: {
      tags,
      summary: 'QoE metrics of a session (Mux Data definitions), optionally in a time window and by a dimension',
      description: 'Aggregates the stored views that started in [from, to). Definitions and their sources: docs/telemetry.md. Operator key only: the numbers cover every viewer of the session.',
      security: [{ operatorKey: [] }],
      params: MetricsParams,
      querystring: MetricsQuery,
      response: { 200: { $ref: 'TelemetryMetrics#' }, 400: P, 401: P, 404: P },
    },
  }, async (req) => {
    const { session_id: sessionId } = req.params as Static<typeof MetricsParams>;
    const q = req.query as MetricsQuery;
    const bound = (name: 'from' | 'to', v: string | undefined): Date | null => {
      if (v === undefined) return null;
      const ms = parseTs(v);
      if (ms === null || ms < MIN_WINDOW_MS || ms > MAX_WINDOW_MS) throw badRequest('invalid_window', `${name} must be an RFC 3339 date-time between 1970 and 9999.`);
      return new Date(ms);
    };
    const from = bound('from', q.from);
    const to = bound('to', q.to);
    if (from && to && from >= to) throw badRequest('invalid_window', 'from must be before to.');
    if (!(await sessions.existing([sessionId])).has(sessionId)) throw notFound('session', sessionId);

    const now = clock.now();
    const base = { sessionId, from, to, activeSince: new Date(now - CONCURRENT_WINDOW_MS), limit: BREAKDOWN_MAX_GROUPS };
    const [overall] = await repo.aggregate(db, base);
    const out: Static<typeof TelemetryMetrics> = {
      session_id: sessionId,
      from: from?.toISOString() ?? null,
      to: to?.toISOString() ?? null,
      as_of: new Date(now).toISOString(),
      ...present(overall ?? EMPTY),
    };
    if (q.dimension) {
      const groups = await repo.aggregate(db, { ...base, dimension: q.dimension });
      out.breakdown = { dimension: q.dimension, groups: groups.map((g): MetricsGroup => ({ value: g.value, ...present(g) })) };
    }
    return out;
  });
};
