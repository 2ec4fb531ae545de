import { Type, type Static } from '@sinclair/typebox';
import { ID_PATTERN } from '../../../core/ids.js';

export const SessionIdString = Type.String({ pattern: ID_PATTERN('ses'), description: 'Session id (ses_…)', examples: ['ses_01jq3v8c9x2m4n6p7r8s9t0vwx'] });

export const StartSessionBody = Type.Object(
  {
    title: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    max_viewers: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000_000, description: 'Concurrent viewer cap; new viewers beyond it are refused.' })),
    metadata: Type.Optional(Type.Record(Type.String({ maxLength: 64 }), Type.Unknown(), { maxProperties: 50, propertyNames: { maxLength: 64 }, description: 'Free-form JSON object (size bounded by STREAMPLANE_METADATA_MAX_BYTES).' })),
  },
  { additionalProperties: false },
);
export type StartSessionBody = Static<typeof StartSessionBody>;

export const StopSessionBody = Type.Object(
  {
    session_id: SessionIdString,
    reason: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
  },
  { additionalProperties: false },
);

const Timestamp = Type.Union([Type.String({ format: 'date-time' }), Type.Null()]);
export const Session = Type.Object(
  {
    id: Type.String(),
    status: Type.Union([Type.Literal('created'), Type.Literal('live'), Type.Literal('ended')]),
    title: Type.Union([Type.String(), Type.Null()]),
    max_viewers: Type.Union([Type.Integer(), Type.Null()]),
    metadata: Type.Record(Type.String(), Type.Unknown()),
    created_at: Type.String({ format: 'date-time' }),
    updated_at: Type.String({ format: 'date-time' }),
    started_at: Timestamp,
    ended_at: Timestamp,
    end_reason: Type.Union([Type.String(), Type.Null()]),
    viewers: Type.Object({
      current: Type.Integer({ description: 'Viewers with a fresh heartbeat now.' }),
      peak: Type.Integer({ description: 'Highest concurrent count seen.' }),
      unique: Type.Integer({ description: 'Distinct viewers over the session.' }),
    }),
  },
  { $id: 'Session' },
);
export type Session = Static<typeof Session>;

export const ListSessionsQuery = Type.Object(
  {
    status: Type.Optional(Type.Union([Type.Literal('created'), Type.Literal('live'), Type.Literal('ended')])),
    created_after: Type.Optional(Type.String({ format: 'date-time' })),
    created_before: Type.Optional(Type.String({ format: 'date-time' })),
    limit: Type.Integer({ minimum: 1, maximum: 100, default: 20 }),
    cursor: Type.Optional(Type.String({ maxLength: 200, description: 'next_cursor from the previous page' })),
  },
  { additionalProperties: false },
);
export type ListSessionsQuery = Static<typeof ListSessionsQuery>;
