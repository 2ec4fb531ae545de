import type { RealtimeConfig } from '../../../config/config.js';
import type { Static } from '@sinclair/typebox';
import type { FastifyPluginAsync, onRequestAsyncHookHandler } from 'fastify';
import { Counter, type Registry } from 'prom-client';
import { AppError, badRequest, forbidden, notFound } from '../../../core/errors.js';
import type { Clock, Database } from '../../../core/ports/index.js';
import { SessionCache } from './session.cache.js';
import { BatchResult, EventBatch, MetricsParams, MetricsQuery, REJECTION_REASONS, TelemetryEvent, TelemetryMetrics, type MetricsGroup, type RejectionReason } from './telemetry.schemas.js';
import { bufferMetrics, TelemetryBuffer } from './telemetry.buffer.js';
import { telemetryRepository as repo, type Aggregate } from './telemetry.repository.js';
import { takeBatch } from './telemetry.intake.js';
import { parseTs } from './telemetry.validator.js';

export type TelemetryLimits = RealtimeConfig['telemetry'];

interface Options {
  db: Database;
  clock: Clock;
  registry: Registry;
  operator: onRequestAsyncHookHandler;
  viewerOrOperator: onRequestAsyncHookHandler;
  limits: TelemetryLimits;
}

/** A view with an event this recent (by event ts) and not ended or paused is a concurrent viewer: six 10 s heartbeats. */
export const CONCURRENT_WINDOW_MS = 60_000;
const BREAKDOWN_MAX_GROUPS = 50;
/** Bounds of ?from= / ?to= that both databases store. */
const MIN_WINDOW_MS = Date.UTC(1970, 0, 1);
const MAX_WINDOW_MS = Date.UTC(9999, 11, 31);

type Outcome = 'accepted' | 'duplicate' | 'backlog' | 'dropped_view_full' | RejectionReason;
const OUTCOMES: readonly Outcome[] = ['accepted', 'duplicate', 'backlog', 'dropped_view_full', ...REJECTION_REASONS];

const P = { $ref: 'Problem#' };
const tags = ['telemetry'];

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

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
export const telemetryRoutes: FastifyPluginAsync<Options> = async (app, { db, clock, registry, operator, viewerOrOperator, limits }) => {
  const log = app.log.child({ feature: 'telemetry' });
  // Counted in plain numbers and handed to the counter when /metrics is scraped, which keeps
  // prom-client's per-call label hashing off the request path.
  const tally = Object.fromEntries(OUTCOMES.map((o) => [o, 0])) as Record<Outcome, number>;
  const reported = { ...tally };
  new Counter({
    name: 'streamplane_telemetry_events_total',
    help: 'Telemetry events received, by outcome (accepted, duplicate, backlog, dropped_view_full or the rejection reason).',
    labelNames: ['outcome'] as const,
    registers: [registry],
    collect() {
      for (const o of OUTCOMES) {
        if (tally[o] === reported[o]) continue;
        this.inc({ outcome: o }, tally[o] - reported[o]);
        reported[o] = tally[o];
      }
    },
  });
  const countRejection = (reason: RejectionReason) => void tally[reason]++;
  const buffer = new TelemetryBuffer(db, clock, log, bufferMetrics(registry, { inc: (n) => void (tally.dropped_view_full += n) }), { flushMs: limits.flushMs, maxEntries: limits.bufferMaxEntries });
  const sessions = new SessionCache(db, clock);
  buffer.start();
  app.addHook('onClose', () => buffer.close());

  app.addSchema(TelemetryEvent);
  app.addSchema(BatchResult);
  app.addSchema(TelemetryMetrics);
  const eventLimits = { maxEventBytes: limits.maxEventBytes, maxAgeMs: limits.maxAgeSeconds * 1000, maxFutureMs: limits.maxFutureMs };

  app.post('/api/v1/telemetry/events', {
    onRequest: viewerOrOperator,
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
    const body = req.body;
    if (!isPlainObject(body) || !Array.isArray(body.events)) throw badRequest('invalid_batch', 'The body must be a JSON object {"events": [ … ]}.');
    for (const k in body) if (k !== 'events') throw badRequest('invalid_batch', `Unknown field ${JSON.stringify(k.slice(0, 70))}: the body is {"events": [ … ]}.`);
    const raw = body.events as unknown[];
    if (raw.length > limits.maxBatchEvents) throw new AppError(413, 'batch_too_large', `A batch holds at most ${limits.maxBatchEvents} events; this one has ${raw.length}. Split it.`, { max_batch_events: limits.maxBatchEvents });
    const viewer = req.viewer;
    if (viewer && !viewer.scope.split(' ').includes('view')) throw forbidden('insufficient_scope', 'Telemetry needs a viewer token with the view scope.');
    if (!buffer.hasRoomFor(raw.length)) {
      tally.backlog += raw.length;
      reply.header('retry-after', String(Math.ceil(limits.flushMs / 1000)));
      throw new AppError(503, 'telemetry_backlog', 'This instance has more telemetry waiting to be written than it buffers; retry the same batch shortly.');
    }

    const taken = takeBatch(raw, { now: clock.now(), limits: eventLimits, viewer, sessions, buffer, count: countRejection });
    const answer = (result: BatchResult) => {
      tally.accepted += result.accepted - result.duplicates;
      tally.duplicate += result.duplicates;
      reply.code(202);
      return result;
    };
    return taken instanceof Promise ? taken.then(answer) : answer(taken);
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
