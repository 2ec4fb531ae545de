import { Type, type Static } from '@sinclair/typebox';
import { ID_PATTERN } from '../../../core/ids.js';

/** Event types a player reports. `pause` is ours (Mux's watch time excludes paused time, so we need it). */
export const EVENT_TYPES = ['view_start', 'playing', 'rebuffer_start', 'rebuffer_end', 'bitrate_change', 'pause', 'error', 'heartbeat', 'view_end'] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/** Dimensions a `view_start` may carry in `data`, and the only names `?dimension=` accepts. */
export const DIMENSIONS = ['device', 'os', 'browser', 'country', 'player', 'cdn'] as const;
export type Dimension = (typeof DIMENSIONS)[number];
export type Dimensions = Partial<Record<Dimension, string>>;

/** Ids players and collectors choose (event, viewer, view): the session service's viewer-id alphabet. */
export const CLIENT_ID_PATTERN = '^[A-Za-z0-9._:@|-]{1,128}$';
export const SESSION_ID_PATTERN = ID_PATTERN('ses');

const ClientId = (description: string) => Type.String({ pattern: CLIENT_ID_PATTERN, description });

/**
 * One event as players send it. The route checks events by hand, one by one (a bad event is rejected
 * alone, not the batch), so this schema documents the format; it is not what validates it.
 */
export const TelemetryEvent = Type.Object(
  {
    event_id: ClientId('Unique per event (a UUID is fine); an event sent twice counts once.'),
    session_id: Type.String({ pattern: SESSION_ID_PATTERN, description: 'The session being watched; must be the token\'s `sid` with a viewer token.' }),
    viewer_id: ClientId('The viewer; must be the token\'s `sub` with a viewer token.'),
    view_id: Type.Optional(ClientId('One playback attempt (a Mux "view"). Without it, all the viewer\'s events in the session form one view.')),
    type: Type.Union(EVENT_TYPES.map((t) => Type.Literal(t))),
    ts: Type.Union([Type.String({ format: 'date-time', description: 'RFC 3339 with a zone, e.g. 2026-05-01T12:00:00.250Z' }), Type.Integer({ minimum: 1, description: 'Unix epoch milliseconds' })]),
    data: Type.Optional(
      Type.Record(Type.String({ pattern: '^[a-z][a-z0-9_]{0,63}$' }), Type.Union([Type.String({ maxLength: 256 }), Type.Number(), Type.Boolean(), Type.Null()]), {
        description:
          'Flat object (at most 32 keys). Read: `bitrate_bps` (bitrate_change, required, positive integer), `fatal` (error, default true), and on view_start the dimensions device, os, browser, country, player, cdn (1-64 characters). Numbers under keys ending in _ms, _bps, _bytes or _count must not be negative.',
      }),
    ),
  },
  { additionalProperties: false, $id: 'TelemetryEvent' },
);

export const EventBatch = Type.Object(
  { events: Type.Array(Type.Ref(TelemetryEvent), { description: 'At most STREAMPLANE_TELEMETRY_MAX_BATCH_EVENTS events (default 500).' }) },
  { additionalProperties: false },
);

export const REJECTION_REASONS = [
  'invalid_event', 'invalid_type', 'invalid_ts', 'too_old', 'too_far_in_future', 'invalid_data', 'event_too_large',
  'forbidden_session', 'forbidden_viewer', 'unknown_session',
] as const;
export type RejectionReason = (typeof REJECTION_REASONS)[number];

export const BatchResult = Type.Object(
  {
    accepted: Type.Integer({ description: 'Events taken for processing (duplicates included: they count once in the metrics).' }),
    rejected: Type.Integer(),
    duplicates: Type.Integer({ description: 'Accepted events whose event_id appeared earlier in this batch. Duplicates of earlier batches are dropped when stored.' }),
    errors: Type.Array(
      Type.Object({
        index: Type.Integer({ description: 'Position of the event in `events`' }),
        reason: Type.Union(REJECTION_REASONS.map((r) => Type.Literal(r))),
        detail: Type.String(),
      }),
    ),
  },
  { $id: 'TelemetryBatchResult' },
);
export type BatchResult = Static<typeof BatchResult>;

export const MetricsParams = Type.Object({ session_id: Type.String({ pattern: SESSION_ID_PATTERN }) }, { additionalProperties: false });
export const MetricsQuery = Type.Object(
  {
    from: Type.Optional(Type.String({ format: 'date-time', description: 'Only views that started at or after this instant' })),
    to: Type.Optional(Type.String({ format: 'date-time', description: 'Only views that started before this instant' })),
    dimension: Type.Optional(Type.Union(DIMENSIONS.map((d) => Type.Literal(d)), { description: 'Also break the metrics down by this dimension (from view_start data)' })),
  },
  { additionalProperties: false },
);
export type MetricsQuery = Static<typeof MetricsQuery>;

const Num = (description: string) => Type.Union([Type.Number(), Type.Null()], { description });
const MetricFields = {
  views: Type.Integer({ description: 'Views (playback attempts) that started in the window' }),
  unique_viewers: Type.Integer({ description: 'Distinct viewer_id among those views' }),
  concurrent_viewers: Type.Integer({ description: 'Views not ended, not paused, with an event in the last 60 s (by event ts)' }),
  video_startup_time_ms: Type.Object({
    p50: Num('Median time from view_start to the first playing (null without samples)'),
    p95: Num('95th percentile'),
    samples: Type.Integer({ description: 'Views with both a view_start and a playing' }),
  }),
  watch_time_ms: Type.Number({ description: 'Startup + playing + rebuffering time, paused time excluded' }),
  playing_time_ms: Type.Number(),
  rebuffer_time_ms: Type.Number(),
  rebuffer_count: Type.Integer(),
  rebuffer_percentage: Num('Rebuffer time / watch time × 100'),
  rebuffer_frequency_per_minute: Num('Rebuffer count / watch time in minutes'),
  playback_failures: Type.Integer({ description: 'Views ended by a fatal error' }),
  playback_failure_percentage: Num('Playback failures / views × 100'),
  exits_before_video_start: Type.Integer({ description: 'Views ended by view_end without ever playing (failures excluded)' }),
  exits_before_video_start_percentage: Num('Exits before video start / views × 100'),
  average_bitrate_bps: Num('Bitrate averaged over playing time (null when no bitrate was reported)'),
};
export const MetricsGroup = Type.Object({ value: Type.Union([Type.String(), Type.Null()], { description: 'The dimension value (null: views without it)' }), ...MetricFields });
export const TelemetryMetrics = Type.Object(
  {
    session_id: Type.String(),
    from: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
    to: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
    as_of: Type.String({ format: 'date-time', description: 'Server time of the answer; events still in the write buffer (up to 5 s) are not counted yet' }),
    ...MetricFields,
    breakdown: Type.Optional(Type.Object({ dimension: Type.String(), groups: Type.Array(MetricsGroup, { description: 'Largest groups first, at most 50' }) })),
  },
  { $id: 'TelemetryMetrics' },
);
export type TelemetryMetrics = Static<typeof TelemetryMetrics>;
export type MetricsGroup = Static<typeof MetricsGroup>;
