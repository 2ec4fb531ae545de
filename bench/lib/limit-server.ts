import Fastify from 'fastify';

/**
 * The limit the scenarios compare against: a bare Fastify 5 app, one route, no plugins, no logger,
 * answering a constant pre-serialized JSON body. It still parses the JSON request body (Fastify's
 * default parser), so a POST of the same size costs the same to receive as on the server under test.
 * Run as its own process: `node --import tsx bench/lib/limit-server.ts` with PORT, HOST, LIMIT_*.
 */
const env = process.env;
const method = env.LIMIT_METHOD === 'GET' ? 'GET' : 'POST';
const path = env.LIMIT_PATH ?? '/';
const status = Number(env.LIMIT_STATUS ?? 200);
const body = env.LIMIT_BODY ?? '{"ok":true}';

const app = Fastify({ logger: false, bodyLimit: 65_536 });
// LIMIT_RAW_BODY=1: any content type, read as a raw buffer and not parsed (what the ingest hook routes
// do with media servers' form posts), instead of Fastify's JSON parser answering 415 to them.
if (env.LIMIT_RAW_BODY === '1') {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, raw, done) => done(null, raw));
}
app.route({
  method,
  url: path,
  handler: async (_req, reply) => reply.code(status).type('application/json; charset=utf-8').send(body),
});
app.get('/health', async () => ({ status: 'ok' }));

const close = () => {
  app.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.once('SIGTERM', close);
process.once('SIGINT', close);

await app.listen({ port: Number(env.PORT ?? 0), host: env.HOST ?? '127.0.0.1' });
