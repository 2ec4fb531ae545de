import { Type, type Static } from '@sinclair/typebox';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { unauthorized } from '../../../core/errors.js';
import { bearerToken } from '../../../http/auth.js';
import { bodylessAsEmptyObject } from '../../../http/validation.js';
import { SessionParams } from '../sessions/session.routes.js';
import type { ViewerClaims } from '../../../http/viewer-auth/viewer-token.verifier.js';
import type { TokenService } from '../tokens/token.service.js';
import type { ViewerService } from './viewer.service.js';

const P = { $ref: 'Problem#' };

export const viewerRoutes: FastifyPluginAsync<{ viewers: ViewerService; tokens: TokenService }> = async (app, { viewers, tokens }) => {
  const viewerClaims = async (req: FastifyRequest): Promise<ViewerClaims> => {
    const token = bearerToken(req);
    if (!token) throw unauthorized('missing_credentials', 'Send the viewer access token: Authorization: Bearer <token>.');
    const v = await tokens.validate(token);
    if (!v.valid) throw unauthorized(`token_${v.reason}`, `The viewer access token is not valid: ${v.reason}.`);
    return v.claims;
  };
  const schema = { tags: ['viewers'], security: [{ viewerToken: [] }], params: SessionParams };

  app.post('/api/v1/sessions/:id/heartbeat', {
    config: { quietLog: true },
    preValidation: bodylessAsEmptyObject,
    schema: {
      ...schema,
      summary: 'Viewer heartbeat (every 10-15 s): counts the viewer while fresh; refused beyond max_viewers',
      body: Type.Object({}, { additionalProperties: false, description: 'Empty, or no body at all.' }),
      response: {
        200: Type.Object({ session_id: Type.String(), viewer_id: Type.String(), viewers: Type.Object({ current: Type.Integer() }), heartbeat_ttl_ms: Type.Integer() }),
        400: P, 401: P, 403: P, 404: P, 409: P, 415: P,
      },
    },
  }, async (req) => {
    const claims = await viewerClaims(req);
    const { id } = req.params as Static<typeof SessionParams>;
    return viewers.heartbeat(id, claims);
  });

  app.delete('/api/v1/sessions/:id/heartbeat', {
    schema: { ...schema, summary: 'Viewer leaves now (instead of timing out)', response: { 204: Type.Null(), 401: P, 403: P } },
  }, async (req, reply) => {
    const claims = await viewerClaims(req);
    await viewers.leave((req.params as Static<typeof SessionParams>).id, claims);
    return reply.code(204).send();
  });
};
