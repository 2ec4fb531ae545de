import { Type, type Static } from '@sinclair/typebox';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { sendProblem } from '../../../http/problem.js';
import type { IngestMetricSet } from '../ingest.metrics.js';
import { adapterFor } from '../media-servers/index.js';
import { NodeIdString } from '../nodes/node.schemas.js';
import type { NodeService } from '../nodes/node.service.js';
import type { HookService } from './hook.service.js';

const HookParams = Type.Object(
  {
    node_id: NodeIdString,
    secret: Type.String({ minLength: 1, maxLength: 128 }),
    hook: Type.String({ pattern: '^[a-z_]{1,32}$' }),
  },
  { additionalProperties: false },
);

/**
 * The callback endpoints media servers call: `/api/v1/ingest/hooks/{node_id}/{secret}/{hook}`. The
 * node secret is in the path because nginx-rtmp can neither sign nor add headers. Bodies are read raw
 * (form-encoded, JSON, or empty for nginx's GET mode) and handed to the node kind's adapter; its
 * answer is rendered in that server's dialect. Logs never carry the secret or the stream key.
 */
export const hookRoutes: FastifyPluginAsync<{ nodes: NodeService; hooks: HookService; metrics: IngestMetricSet; bodyLimit: number }> = async (app, { nodes, hooks, metrics, bodyLimit }) => {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit }, (_req, body, done) => done(null, body));

  const handler = async (req: FastifyRequest, reply: FastifyReply) => {
    const { node_id, secret, hook } = req.params as Static<typeof HookParams>;
    const node = await nodes.authenticateHook(node_id, secret);
    if (!node) {
      metrics.hooks.inc({ kind: 'unknown', event: hook, outcome: 'unauthorized' });
      return sendProblem(reply, 401, 'bad_hook_credentials', 'Unknown node or wrong node secret in the callback URL.');
    }
    const adapter = adapterFor(node.kind);
    if (!adapter.hooks.includes(hook)) {
      metrics.hooks.inc({ kind: node.kind, event: hook, outcome: 'bad_request' });
      return sendProblem(reply, 404, 'unknown_hook', `A ${node.kind} node has no callback named ${hook}; use one of ${adapter.hooks.join(', ')}.`);
    }
    const q = req.url.indexOf('?');
    const parsed = adapter.parse({
      hook,
      method: req.method,
      headers: req.headers,
      query: q < 0 ? '' : req.url.slice(q + 1),
      rawBody: Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0),
    }, nodes.secretOf(node));
    if (!parsed.ok) {
      metrics.hooks.inc({ kind: node.kind, event: hook, outcome: parsed.status === 401 ? 'unauthorized' : 'bad_request' });
      return sendProblem(reply, parsed.status, 'bad_callback', parsed.reason);
    }
    const decision = await hooks.decide(node, parsed.event);
    metrics.hooks.inc({ kind: node.kind, event: parsed.event.type, outcome: decision.kind });
    const res = adapter.render(parsed.event, decision);
    return reply.code(res.status).headers(res.headers).send(res.body);
  };

  const schema = {
    tags: ['ingest callbacks'],
    summary: 'Media-server callback (the URL comes from the node\'s `hooks`)',
    description: 'Called by the media server, not by people: nginx-rtmp form posts, SRS/OME/MediaMTX JSON. The answer is in that server\'s dialect.',
    params: HookParams,
  };
  app.post('/api/v1/ingest/hooks/:node_id/:secret/:hook', { schema, config: { quietLog: false } }, handler);
  app.get('/api/v1/ingest/hooks/:node_id/:secret/:hook', { schema }, handler);
};
