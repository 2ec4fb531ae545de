import { Type, type Static } from '@sinclair/typebox';
import type { FastifyPluginAsync, onRequestAsyncHookHandler } from 'fastify';
import { bodylessAsEmptyObject } from '../../../http/validation.js';
import { ListSessionsQuery, Session, SessionIdString, StartSessionBody, StopSessionBody } from './session.schemas.js';
import type { SessionService } from './session.service.js';

const P = { $ref: 'Problem#' };
const errors = { 400: P, 401: P, 404: P, 409: P, 413: P, 415: P, 422: P };
const security = [{ operatorKey: [] }];
export const SessionParams = Type.Object({ id: SessionIdString }, { additionalProperties: false });

export const sessionRoutes: FastifyPluginAsync<{ sessions: SessionService; operator: onRequestAsyncHookHandler }> = async (app, { sessions, operator }) => {
  app.addSchema(Session);

  app.post('/api/v1/sessions/start', {
    onRequest: operator,
    preValidation: bodylessAsEmptyObject,
    schema: {
      tags: ['sessions'],
      summary: 'Create a stream session (status created; it goes live with the first accepted publish)',
      description: 'Honours `Idempotency-Key`: a retry with the same key and body replays the first answer.',
      security,
      headers: Type.Object({ 'idempotency-key': Type.Optional(Type.String({ minLength: 1, maxLength: 255 })) }),
      body: StartSessionBody,
      response: { 201: { $ref: 'Session#' }, ...errors },
    },
  }, async (req, reply) => {
    const key = req.headers['idempotency-key'];
    const result = await sessions.start(req.body as Static<typeof StartSessionBody>, req.operator!.keyId, typeof key === 'string' ? key : undefined);
    if (result.replayed) reply.header('idempotent-replayed', 'true');
    else req.log.info({ session_id: result.body.id }, 'session created');
    return reply.code(result.status).send(result.body);
  });

  app.post('/api/v1/sessions/stop', {
    onRequest: operator,
    schema: { tags: ['sessions'], summary: 'End a session (idempotent); its viewer tokens stop validating', security, body: StopSessionBody, response: { 200: { $ref: 'Session#' }, ...errors } },
  }, async (req) => {
    const body = req.body as Static<typeof StopSessionBody>;
    const session = await sessions.stop(body.session_id, body.reason ?? 'stopped');
    req.log.info({ session_id: session.id }, 'session stopped');
    return session;
  });

  app.get('/api/v1/sessions/:id', {
    onRequest: operator,
    schema: { tags: ['sessions'], summary: 'A session with its viewer counts', security, params: SessionParams, response: { 200: { $ref: 'Session#' }, ...errors } },
  }, async (req) => sessions.get((req.params as Static<typeof SessionParams>).id));

  app.get('/api/v1/sessions', {
    onRequest: operator,
    schema: {
      tags: ['sessions'],
      summary: 'List sessions, newest first, cursor-paginated',
      security,
      querystring: ListSessionsQuery,
      response: { 200: Type.Object({ data: Type.Array(Type.Ref(Session)), next_cursor: Type.Union([Type.String(), Type.Null()]) }), ...errors },
    },
  }, async (req) => sessions.list(req.query as ListSessionsQuery));
};
