import { Type, type Static } from '@sinclair/typebox';
import { ID_PATTERN } from '../../../core/ids.js';
import { EncoderSettings, QUALITY_PROFILES } from './encoder-settings.js';

export const IngestIdString = Type.String({ pattern: ID_PATTERN('ing'), description: 'Ingest id (ing_…)' });
const SessionIdString = Type.String({ pattern: ID_PATTERN('ses'), description: 'Session id (ses_…)' });
const Side = Type.Union([Type.Literal('primary'), Type.Literal('backup')]);
const Timestamp = Type.Union([Type.String({ format: 'date-time' }), Type.Null()]);
const Profile = Type.Union(QUALITY_PROFILES.map((p) => Type.Literal(p)));

export const StartIngestBody = Type.Object(
  {
    session_id: SessionIdString,
    protocol: Type.Optional(Type.Literal('rtmp', { default: 'rtmp' })),
    region: Type.Optional(Type.String({ minLength: 1, maxLength: 64, pattern: '^[a-z0-9][a-z0-9-]*$', description: 'Preferred region; nodes elsewhere are used when none there can take it.' })),
    redundant: Type.Optional(Type.Boolean({ default: false, description: 'Also assign a backup node on another machine; the encoder pushes to both.' })),
    quality_profile: Type.Optional(Profile),
    reconnect_window_seconds: Type.Optional(Type.Integer({ minimum: 0, maximum: 86_400, description: 'How long the session waits for a lost publisher (default STREAMPLANE_INGEST_RECONNECT_WINDOW_SECONDS).' })),
  },
  { additionalProperties: false },
);
export type StartIngestBody = Static<typeof StartIngestBody>;

export const StopIngestBody = Type.Object(
  {
    ingest_id: Type.Optional(IngestIdString),
    session_id: Type.Optional(SessionIdString),
    reason: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
  },
  { additionalProperties: false, description: 'Name the ingest by ingest_id or session_id (exactly one).' },
);
export type StopIngestBody = Static<typeof StopIngestBody>;

export const IngestParams = Type.Object({ id: IngestIdString }, { additionalProperties: false });
export const RotateKeyBody = Type.Object(
  { overlap_seconds: Type.Optional(Type.Integer({ minimum: 0, maximum: 2_592_000, description: 'How long the old key keeps working (default STREAMPLANE_INGEST_KEY_OVERLAP_SECONDS).' })) },
  { additionalProperties: false },
);


const Endpoint = Type.Object({
  node_id: Type.String(),
  url: Type.String({ description: 'Server URL for the encoder.' }),
  publish_url: Type.String({ description: 'Server URL with the stream key appended (for encoders that take one URL).' }),
});

export const StartedIngest = Type.Object(
  {
    id: Type.String(),
    session_id: Type.String(),
    status: Type.Literal('idle'),
    stream_key: Type.String({ description: 'Shown once: only its hash is stored.' }),
    primary: Endpoint,
    backup: Type.Union([Endpoint, Type.Null()]),
    encoder_settings: EncoderSettings,
    quality_profile: Profile,
    reconnect_window_seconds: Type.Integer(),
    created_at: Type.String({ format: 'date-time' }),
  },
  { $id: 'StartedIngest' },
);

const SideStatus = Type.Object({
  node_id: Type.String(),
  node_name: Type.String(),
  state: Type.Union([Type.Literal('idle'), Type.Literal('receiving'), Type.Literal('stalled'), Type.Literal('down')], { description: 'idle: no publisher yet; receiving: bytes arriving; stalled: connected but no bytes; down: node or publisher lost.' }),
  node_health: Type.Union([Type.Literal('up'), Type.Literal('down'), Type.Literal('unknown')]),
  publisher: Type.Union([
    Type.Object({ client_id: Type.Union([Type.String(), Type.Null()]), addr: Type.Union([Type.String(), Type.Null()]), state: Type.String(), started_at: Type.String(), last_seen_at: Type.String(), ended_at: Timestamp, end_reason: Type.Union([Type.String(), Type.Null()]) }),
    Type.Null(),
  ]),
  bytes_in: Type.Union([Type.Integer(), Type.Null()]),
  bitrate_kbps: Type.Union([Type.Number(), Type.Null()]),
  playback_origin: Type.String({ description: 'Where players (or a CDN origin pull) read this side\'s stream.' }),
});

export const IngestStatus = Type.Object(
  {
    id: Type.String(),
    session_id: Type.String(),
    status: Type.Union([Type.Literal('idle'), Type.Literal('live'), Type.Literal('reconnecting'), Type.Literal('ended')]),
    redundant: Type.Boolean(),
    quality_profile: Profile,
    active_side: Side,
    active_node_id: Type.String(),
    playback_origin: Type.String(),
    sides: Type.Object({ primary: SideStatus, backup: Type.Union([SideStatus, Type.Null()]) }),
    failovers: Type.Array(Type.Object({ at: Type.String(), from_side: Side, to_side: Side, reason: Type.String(), manual: Type.Boolean() })),
    reconnect_window_seconds: Type.Integer(),
    reconnect_deadline: Timestamp,
    created_at: Type.String({ format: 'date-time' }),
    live_at: Timestamp,
    ended_at: Timestamp,
    end_reason: Type.Union([Type.String(), Type.Null()]),
  },
  { $id: 'IngestStatus' },
);
export type IngestStatus = Static<typeof IngestStatus>;

export const IngestMetrics = Type.Object(
  {
    id: Type.String(),
    side: Side,
    node_id: Type.String(),
    measured: Type.Object({
      bitrate_kbps: Type.Union([Type.Number(), Type.Null()], { description: 'From the growth of bytes received over the last seconds.' }),
      video_bitrate_kbps: Type.Union([Type.Number(), Type.Null()]),
      audio_bitrate_kbps: Type.Union([Type.Number(), Type.Null()]),
      frame_rate: Type.Union([Type.Number(), Type.Null()]),
      width: Type.Union([Type.Integer(), Type.Null()]),
      height: Type.Union([Type.Integer(), Type.Null()]),
      video_codec: Type.Union([Type.String(), Type.Null()]),
      audio_codec: Type.Union([Type.String(), Type.Null()]),
      bytes_in: Type.Union([Type.Integer(), Type.Null()]),
      dropped_frames: Type.Union([Type.Integer(), Type.Null()]),
      uptime_seconds: Type.Union([Type.Number(), Type.Null()]),
    }),
    target: EncoderSettings,
    health: Type.Object({
      score: Type.Integer({ minimum: 0, maximum: 100 }),
      issues: Type.Array(Type.Object({ code: Type.String(), detail: Type.String() })),
    }),
    profile_violations: Type.Array(Type.Object({ code: Type.String(), detail: Type.String() })),
    recommendation: Type.Union([Type.Object({ action: Type.String(), video_bitrate_kbps: Type.Optional(Type.Integer()), detail: Type.String() }), Type.Null()]),
  },
  { $id: 'IngestMetrics' },
);
export type IngestMetrics = Static<typeof IngestMetrics>;

const IngestState = Type.Union([Type.Literal('idle'), Type.Literal('live'), Type.Literal('reconnecting'), Type.Literal('ended')]);
export const ListIngestsQuery = Type.Object(
  {
    session_id: Type.Optional(SessionIdString),
    status: Type.Optional(IngestState),
    node_id: Type.Optional(Type.String({ pattern: ID_PATTERN('nd'), description: 'Ingests using this node (primary or backup).' })),
    limit: Type.Integer({ minimum: 1, maximum: 100, default: 20 }),
    cursor: Type.Optional(Type.String({ maxLength: 200, description: 'next_cursor from the previous page' })),
  },
  { additionalProperties: false },
);
export type ListIngestsQuery = Static<typeof ListIngestsQuery>;

export const IngestSummary = Type.Object(
  {
    id: Type.String(),
    session_id: Type.String(),
    status: IngestState,
    redundant: Type.Boolean(),
    quality_profile: Profile,
    active_side: Side,
    primary_node_id: Type.String(),
    backup_node_id: Type.Union([Type.String(), Type.Null()]),
    created_at: Type.String({ format: 'date-time' }),
    live_at: Timestamp,
    ended_at: Timestamp,
    end_reason: Type.Union([Type.String(), Type.Null()]),
  },
  { $id: 'IngestSummary' },
);
export type IngestSummary = Static<typeof IngestSummary>;
