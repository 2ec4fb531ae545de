import { Type, type Static } from '@sinclair/typebox';
import { ID_PATTERN } from '../../../core/ids.js';

export const NodeIdString = Type.String({ pattern: ID_PATTERN('nd'), description: 'Ingest node id (nd_…)' });
const Kind = Type.Union([Type.Literal('nginx-rtmp'), Type.Literal('srs'), Type.Literal('ome'), Type.Literal('mediamtx')]);
const Name = Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9][A-Za-z0-9._-]*$' });
const HttpUrl = Type.String({ maxLength: 512, pattern: '^https?://[^\\s/?#]+(/[^\\s?#]*)?$' });

export const NodeLimits = Type.Object(
  {
    max_bitrate_kbps: Type.Optional(Type.Integer({ minimum: 100, maximum: 200_000, description: 'Highest video bitrate the node accepts.' })),
    max_height: Type.Optional(Type.Integer({ minimum: 144, maximum: 4_320, description: 'Highest video height (lines).' })),
    max_fps: Type.Optional(Type.Integer({ minimum: 1, maximum: 240 })),
  },
  { additionalProperties: false },
);
export type NodeLimits = Static<typeof NodeLimits>;

export const RegisterNodeBody = Type.Object(
  {
    name: Name,
    kind: Kind,
    region: Type.String({ minLength: 1, maxLength: 64, pattern: '^[a-z0-9][a-z0-9-]*$', examples: ['eu-west-1'] }),
    ingest_url: Type.String({ maxLength: 512, pattern: '^(rtmp|rtmps|srt|rtsp|rtsps)://[^\\s/?#]+(/[^\\s?#]*)?$', description: 'Where encoders publish, with the application path, e.g. rtmp://10.0.0.5:1935/live.', examples: ['rtmp://10.0.0.5:1935/live'] }),
    stats_url: Type.Optional(Type.Union([HttpUrl, Type.Null()], { description: 'nginx-rtmp: the rtmp_stat page (http://host:8080/stat); SRS: /api/v1/streams/; MediaMTX: /v3/paths/list.' })),
    control_url: Type.Optional(Type.Union([HttpUrl, Type.Null()], { description: 'nginx-rtmp: the rtmp_control location (http://host:8080/control), used to drop publishers.' })),
    capacity: Type.Optional(Type.Integer({ minimum: 1, maximum: 100_000, default: 100, description: 'Live streams this node takes.' })),
    machine: Type.Optional(Type.String({ minLength: 1, maxLength: 128, description: 'The host the node runs on; primary and backup never share one. Default: the ingest_url host.' })),
    limits: Type.Optional(NodeLimits),
  },
  { additionalProperties: false },
);
export type RegisterNodeBody = Static<typeof RegisterNodeBody>;

export const IngestNode = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    kind: Kind,
    region: Type.String(),
    machine: Type.String(),
    ingest_url: Type.String(),
    stats_url: Type.Union([Type.String(), Type.Null()]),
    control_url: Type.Union([Type.String(), Type.Null()]),
    capacity: Type.Integer(),
    limits: NodeLimits,
    status: Type.Union([Type.Literal('active'), Type.Literal('draining')], { description: 'draining: takes no new ingests.' }),
    health: Type.Object({
      state: Type.Union([Type.Literal('up'), Type.Literal('down'), Type.Literal('unknown')], { description: 'From stats polling; unknown without a stats_url or before the first poll.' }),
      checked_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
      detail: Type.Union([Type.String(), Type.Null()]),
    }),
    open_ingests: Type.Integer({ description: 'Ingests not ended that use this node (its load).' }),
    hooks: Type.Optional(Type.Record(Type.String(), Type.String(), { description: 'Callback URL per event to paste into the media server configuration; each carries the node secret. In single-node answers only, not in lists.' })),
    created_at: Type.String({ format: 'date-time' }),
    updated_at: Type.String({ format: 'date-time' }),
  },
  { $id: 'IngestNode' },
);
export type IngestNode = Static<typeof IngestNode>;

export const NodeParams = Type.Object({ id: NodeIdString }, { additionalProperties: false });
export const NginxConfigQuery = Type.Object(
  { update_interval_seconds: Type.Optional(Type.Integer({ minimum: 1, maximum: 3_600, default: 10, description: 'notify_update_timeout: how often nginx re-authorizes a live stream (a kick takes up to this long).' })) },
  { additionalProperties: false },
);
