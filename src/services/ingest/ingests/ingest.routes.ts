import { Type, type Static } from '@sinclair/typebox';
import type { FastifyPluginAsync, onRequestAsyncHookHandler } from 'fastify';
import { bodylessAsEmptyObject } from '../../../http/validation.js';
import { IngestMetrics, IngestParams, IngestStatus, IngestSummary, ListIngestsQuery, RotateKeyBody, StartedIngest, StartIngestBody, StopIngestBody } from './ingest.schemas.js';
import type { IngestService } from './ingest.service.js';

const P = { $ref: 'Problem#' };
const errors = { 400: P, 401: P, 404: P, 409: P, 413: P, 415: P };
const security = [{ operatorKey: [] }];
const tags = ['ingest'];
const Empty = Type.Object({}, { additionalProperties: false });

export const ingestRoutes: FastifyPluginAsync<{ ingests: IngestService; operator: onRequestAsyncHookHandler }> = async (app, { ingests, operator }) => {
  app.addSchema(StartedIngest);
  app.addSchema(IngestStatus);
  app.addSchema(IngestMetrics);
  app.addSchema(IngestSummary);
  const status = { 200: { $ref: 'IngestStatus#' }, ...errors };

  app.post('/api/v1/ingest/start', {
    onRequest: operator,
    schema: {
      tags,
      summary: 'Route a session\'s encoder to a primary (and backup) node and issue its stream key',
      description: 'The stream key is shown once. 503 when no node can take the stream (the problem says why).',
      security,
      body: StartIngestBody,
      response: { 201: { $ref: 'StartedIngest#' }, 503: P, ...errors },
    },
  }, async (req, reply) => {
    const started = await ingests.start(req.body as StartIngestBody, req.operator!.keyId);
    req.log.info({ session_id: started.session_id, ingest_id: started.id, primary: started.primary.node_id, backup: started.backup?.node_id ?? null }, 'ingest started');
    return reply.code(201).send(started);
  });

  app.post('/api/v1/ingest/stop', {
    onRequest: operator,
    schema: { tags, summary: 'End an ingest (idempotent) and kick its publisher; its session ends too', security, body: StopIngestBody, response: status },
  }, async (req) => {
    const b = req.body as StopIngestBody;
    return ingests.stop({ ingest_id: b.ingest_id, session_id: b.session_id }, b.reason ?? 'stopped');
  });

  app.get('/api/v1/ingest', {
    onRequest: operator,
    schema: {
      tags,
      summary: 'List ingests, newest first, by session, status or node; cursor-paginated',
      security,
      querystring: ListIngestsQuery,
      response: { 200: Type.Object({ data: Type.Array(Type.Ref(IngestSummary)), next_cursor: Type.Union([Type.String(), Type.Null()]) }), ...errors },
    },
  }, async (req) => ingests.list(req.query as ListIngestsQuery));

  app.get('/api/v1/ingest/:id/status', {
    onRequest: operator,
    schema: { tags, summary: 'Each side\'s state, the active side and its playback origin, failover history', security, params: IngestParams, response: status },
  }, async (req) => ingests.status((req.params as Static<typeof IngestParams>).id));

  app.post('/api/v1/ingest/:id/failover', {
    onRequest: operator,
    preValidation: bodylessAsEmptyObject,
    schema: { tags, summary: 'Switch the active side by hand (409 unless the other side is receiving)', security, params: IngestParams, body: Empty, response: status },
  }, async (req) => ingests.manualFailover((req.params as Static<typeof IngestParams>).id));

  const MetricsQuery = Type.Object({ side: Type.Optional(Type.Union([Type.Literal('primary'), Type.Literal('backup')])) }, { additionalProperties: false });
  app.get('/api/v1/ingest/:id/metrics', {
    onRequest: operator,
    schema: { tags, summary: 'Measured bitrate, frame rate, resolution, health score and a recommendation (active side unless ?side=)', security, params: IngestParams, querystring: MetricsQuery, response: { 200: { $ref: 'IngestMetrics#' }, ...errors } },
  }, async (req) => ingests.metrics((req.params as Static<typeof IngestParams>).id, (req.query as Static<typeof MetricsQuery>).side));

  app.post('/api/v1/ingest/:id/stream-key/rotate', {
    onRequest: operator,
    preValidation: bodylessAsEmptyObject,
    schema: {
      tags,
      summary: 'Issue a new stream key; the old ones keep working for the overlap',
      security,
      params: IngestParams,
      body: RotateKeyBody,
      response: { 200: Type.Object({ stream_key: Type.String(), previous_keys_expire_at: Type.String({ format: 'date-time' }) }), ...errors },
    },
  }, async (req) => ingests.rotateKey((req.params as Static<typeof IngestParams>).id, (req.body as Static<typeof RotateKeyBody>).overlap_seconds));

  app.post('/api/v1/ingest/:id/stream-key/revoke', {
    onRequest: operator,
    preValidation: bodylessAsEmptyObject,
    schema: { tags, summary: 'Revoke every stream key of the ingest; a live publisher is kicked at its next update', security, params: IngestParams, body: Empty, response: { 200: Type.Object({ revoked: Type.Integer() }), ...errors } },
  }, async (req) => ingests.revokeKeys((req.params as Static<typeof IngestParams>).id));
};
