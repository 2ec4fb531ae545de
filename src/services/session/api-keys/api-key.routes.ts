import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import type { onRequestAsyncHookHandler } from 'fastify';
import type { ApiKeyService } from '../../../http/api-key.service.js';

const ApiKey = Type.Object({
  id: Type.String(),
  name: Type.String(),
  created_at: Type.String({ format: 'date-time' }),
  revoked_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  last_used_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
});
const KeyId = Type.Object({ id: Type.String({ pattern: '^[0-9a-hjkmnp-tv-z]{26}$', description: 'API key id' }) }, { additionalProperties: false });
const errors = { 400: { $ref: 'Problem#' }, 401: { $ref: 'Problem#' } };

export const apiKeyRoutes: FastifyPluginAsync<{ keys: ApiKeyService; operator: onRequestAsyncHookHandler }> = async (app, { keys, operator }) => {
  app.post('/api/v1/keys', {
    onRequest: operator,
    schema: {
      tags: ['api keys'],
      summary: 'Create an operator API key (the key is shown once)',
      security: [{ operatorKey: [] }],
      body: Type.Object({ name: Type.String({ minLength: 1, maxLength: 100 }) }, { additionalProperties: false }),
      response: { 201: Type.Composite([ApiKey, Type.Object({ key: Type.String({ description: 'The secret; store it now, it is not shown again.' }) })]), ...errors },
    },
  }, async (req, reply) => {
    const created = await keys.create((req.body as { name: string }).name);
    req.log.info({ key_id: created.id }, 'api key created');
    return reply.code(201).send(created);
  });

  app.get('/api/v1/keys', {
    onRequest: operator,
    schema: { tags: ['api keys'], summary: 'List operator API keys (never their secrets)', security: [{ operatorKey: [] }], response: { 200: Type.Object({ data: Type.Array(ApiKey) }), ...errors } },
  }, async () => ({ data: await keys.list() }));

  app.delete('/api/v1/keys/:id', {
    onRequest: operator,
    schema: { tags: ['api keys'], summary: 'Revoke an operator API key (idempotent)', security: [{ operatorKey: [] }], params: KeyId, response: { 200: ApiKey, 404: { $ref: 'Problem#' }, ...errors } },
  }, async (req) => {
    const revoked = await keys.revoke((req.params as { id: string }).id);
    req.log.info({ key_id: revoked.id }, 'api key revoked');
    return revoked;
  });
};
