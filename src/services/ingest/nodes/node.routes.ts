import { Type, type Static } from '@sinclair/typebox';
import type { FastifyPluginAsync, onRequestAsyncHookHandler } from 'fastify';
import { bodylessAsEmptyObject } from '../../../http/validation.js';
import { renderNginxApplication } from './node.nginx-config.js';
import { IngestNode, NginxConfigQuery, NodeParams, RegisterNodeBody } from './node.schemas.js';
import type { NodeService } from './node.service.js';

const P = { $ref: 'Problem#' };
const errors = { 400: P, 401: P, 404: P, 409: P, 413: P, 415: P };
const security = [{ operatorKey: [] }];
const tags = ['ingest nodes'];

export const nodeRoutes: FastifyPluginAsync<{ nodes: NodeService; operator: onRequestAsyncHookHandler }> = async (app, { nodes, operator }) => {
  app.addSchema(IngestNode);
  const one = { 200: { $ref: 'IngestNode#' }, ...errors };

  app.post('/api/v1/ingest/nodes', {
    onRequest: operator,
    schema: {
      tags,
      summary: 'Register a media server as an ingest node',
      description: 'The answer\'s `hooks` are the callback URLs to paste into the server\'s configuration; they carry the node secret.',
      security,
      body: RegisterNodeBody,
      response: { 201: { $ref: 'IngestNode#' }, ...errors },
    },
  }, async (req, reply) => {
    const node = await nodes.register(req.body as RegisterNodeBody);
    req.log.info({ node_id: node.id }, 'ingest node registered');
    return reply.code(201).send(node);
  });

  app.get('/api/v1/ingest/nodes', {
    onRequest: operator,
    schema: { tags, summary: 'List ingest nodes with health and load', security, response: { 200: Type.Object({ data: Type.Array(Type.Ref(IngestNode)) }), ...errors } },
  }, async () => ({ data: await nodes.list() }));

  app.get('/api/v1/ingest/nodes/:id', {
    onRequest: operator,
    schema: { tags, summary: 'An ingest node', security, params: NodeParams, response: one },
  }, async (req) => nodes.get((req.params as Static<typeof NodeParams>).id));

  for (const [path, status, summary] of [['drain', 'draining', 'Drain: take no new ingests (running ones go on)'], ['undrain', 'active', 'Take new ingests again']] as const) {
    app.post(`/api/v1/ingest/nodes/:id/${path}`, {
      onRequest: operator,
      preValidation: bodylessAsEmptyObject,
      schema: { tags, summary, security, params: NodeParams, body: Type.Object({}, { additionalProperties: false }), response: one },
    }, async (req) => nodes.setStatus((req.params as Static<typeof NodeParams>).id, status));
  }

  app.post('/api/v1/ingest/nodes/:id/rotate-secret', {
    onRequest: operator,
    preValidation: bodylessAsEmptyObject,
    schema: { tags, summary: 'New hook secret: the old callback URLs stop working at once', security, params: NodeParams, body: Type.Object({}, { additionalProperties: false }), response: one },
  }, async (req) => nodes.rotateSecret((req.params as Static<typeof NodeParams>).id));

  app.delete('/api/v1/ingest/nodes/:id', {
    onRequest: operator,
    schema: { tags, summary: 'Delete a node (409 while ingests that have not ended use it)', security, params: NodeParams, response: { 204: Type.Null(), ...errors } },
  }, async (req, reply) => {
    await nodes.delete((req.params as Static<typeof NodeParams>).id);
    return reply.code(204).send();
  });

  app.get('/api/v1/ingest/nodes/:id/config/nginx', {
    onRequest: operator,
    schema: {
      tags,
      summary: 'A ready nginx-rtmp `application` block for this node',
      security,
      params: NodeParams,
      querystring: NginxConfigQuery,
      response: { 200: { description: 'nginx configuration text', content: { 'text/plain': { schema: Type.String() } } }, ...errors },
    },
  }, async (req, reply) => {
    const { id } = req.params as Static<typeof NodeParams>;
    const q = req.query as Static<typeof NginxConfigQuery>;
    const node = await nodes.row(id);
    return reply.type('text/plain; charset=utf-8').send(renderNginxApplication(node, nodes.hooks(node), q.update_interval_seconds ?? 10));
  });
};
