import { Type, type Static } from '@sinclair/typebox';
import type { FastifyPluginAsync, onRequestAsyncHookHandler } from 'fastify';
import { forbidden, notFound } from '../../../core/errors.js';
import { ID_PATTERN } from '../../../core/ids.js';
import { hasScope } from '../../../http/viewer-auth/viewer-token.verifier.js';
import { LANG_MAX, LANG_PATTERN } from './captions.frames.js';
import type { CaptionsService } from './captions.service.js';

const Params = Type.Object({ id: Type.String({ pattern: ID_PATTERN('ses'), description: 'Session id (ses_…)' }) }, { additionalProperties: false });
const Query = Type.Object(
  {
    lang: Type.Optional(Type.String({
      minLength: 2,
      maxLength: LANG_MAX,
      pattern: LANG_PATTERN,
      description: 'Only cues in this language: `en` matches `en`, `en-US`, `en-GB` (RFC 4647 basic filtering, case-insensitive). Without it, every cue of every language.',
    })),
    access_token: Type.Optional(Type.String({ maxLength: 4096, description: 'A viewer access token, for a `<track src>` that cannot send an Authorization header.' })),
  },
  { additionalProperties: false },
);
const P = { $ref: 'Problem#' };

/** `GET /api/v1/sessions/{id}/captions.vtt`: the session's stored cues as a WebVTT file. */
export const captionsRoutes: FastifyPluginAsync<{ captions: CaptionsService; viewerOrOperator: onRequestAsyncHookHandler }> = async (app, { captions, viewerOrOperator }) => {
  app.get('/api/v1/sessions/:id/captions.vtt', {
    onRequest: viewerOrOperator,
    schema: {
      tags: ['captions'],
      summary: 'The captions of a session as a WebVTT file',
      description:
        'Every stored cue of the session (live or ended), in start order, as WebVTT (cue identifiers are the cues\' `seq`). ' +
        'A viewer access token must be for this session and carry `view` or `publish_captions`; an operator API key reads any session. ' +
        'One file is best one language: pass `lang`.',
      security: [{ viewerToken: [] }, { operatorKey: [] }],
      params: Params,
      querystring: Query,
      response: { 200: { description: 'WebVTT', content: { 'text/vtt': { schema: Type.String() } } }, 400: P, 401: P, 403: P, 404: P },
    },
  }, async (req, reply) => {
    const { id } = req.params as Static<typeof Params>;
    const { lang } = req.query as Static<typeof Query>;
    const viewer = req.viewer;
    if (viewer) {
      // Not found and other session answer the same to a viewer: a token does not reveal which sessions exist.
      if (viewer.sid !== id) throw forbidden('forbidden', 'The token is for another session.');
      if (!hasScope(viewer, 'view') && !hasScope(viewer, 'publish_captions')) throw forbidden('forbidden', 'The token needs one of the scopes view, publish_captions.');
    }
    const vtt = await captions.vtt(id, lang ?? null);
    if (vtt === null) throw notFound('session', id);
    // The file grows while the session is live: caches must revalidate.
    return reply.type('text/vtt; charset=utf-8').header('cache-control', 'private, no-cache').send(vtt);
  });
};
