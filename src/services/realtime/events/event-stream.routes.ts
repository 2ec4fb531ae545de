import { Type, type Static } from '@sinclair/typebox';
import type { FastifyPluginAsync, onRequestAsyncHookHandler } from 'fastify';
import type { Socket } from 'node:net';
import type { Clock, Database, TimerHandle } from '../../../core/ports/index.js';
import { eventLogRepository as repo } from './event-log.repository.js';

const EventId = Type.String({ pattern: '^[0-9]{1,18}$', description: 'An event id from the stream' });
const StreamQuery = Type.Object(
  {
    last_event_id: Type.Optional(EventId),
    topics: Type.Optional(Type.String({ maxLength: 1_000, pattern: '^[a-z_.]+(,[a-z_.]+)*$', description: 'Comma-separated topics to receive (default: all).' })),
  },
  { additionalProperties: false },
);
const StreamHeaders = Type.Object({ 'last-event-id': Type.Optional(EventId) });

interface Options {
  db: Database;
  clock: Clock;
  operator: onRequestAsyncHookHandler;
  pollMs: number;
}

/** Events per read: a stream far behind catches up in steps instead of one huge query. */
const PAGE = 500;
/** A comment line this often keeps proxies and load balancers (ALB: 60 s idle) from cutting the stream. */
const KEEPALIVE_MS = 15_000;
/** A client that lets this much stream data pile up unread is disconnected, not buffered for. */
const MAX_BUFFERED_BYTES = 1_048_576;

/**
 * `GET /api/v1/events`: the operator event stream (Server-Sent Events). Each event carries its id, so
 * a client that reconnects with `Last-Event-ID` (EventSource does it by itself) or `?last_event_id=`
 * gets what it missed, in order, within the retention window; if what it missed was already purged it
 * first receives an `event: stream.gap`. Without an id the stream starts with the next event.
 */
export const eventStreamRoutes: FastifyPluginAsync<Options> = async (app, { db, clock, operator, pollMs }) => {
  // The sockets of event streams, until they close: a stream whose client stopped reading can outlive
  // its response by the client's keep-alive, which would hold up shutdown.
  const sockets = new Set<Socket>();
  // SSE connections are never idle: end them before the server waits for connections to close. Clients
  // reconnect elsewhere with Last-Event-ID.
  app.addHook('preClose', async () => {
    for (const socket of sockets) socket.destroy();
  });

  app.get('/api/v1/events', {
    onRequest: operator,
    schema: {
      tags: ['events'],
      summary: 'Stream domain events (Server-Sent Events), resumable with Last-Event-ID',
      description: 'Topics: session.created, session.live, session.ended, ingest.started, ingest.failover, ingest.ended, token.revoked. Each SSE message has `id`, `event` (the topic) and `data` (the JSON payload).',
      security: [{ operatorKey: [] }],
      headers: StreamHeaders,
      querystring: StreamQuery,
      response: { 200: { description: 'text/event-stream', content: { 'text/event-stream': { schema: Type.String() } } }, 400: { $ref: 'Problem#' }, 401: { $ref: 'Problem#' } },
    },
  }, async (req, reply) => {
    const q = req.query as Static<typeof StreamQuery>;
    const resumeFrom = (req.headers['last-event-id'] as string | undefined) ?? q.last_event_id;
    const topics = q.topics ? new Set(q.topics.split(',')) : null;
    let cursor = resumeFrom ?? (await repo.head(db));
    const gap = resumeFrom !== undefined && BigInt(await repo.oldest(db)) > BigInt(resumeFrom) + 1n;

    reply.hijack();
    const raw = reply.raw;
    raw.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    raw.write('retry: 2000\n\n');
    if (gap) raw.write(`event: stream.gap\ndata: ${JSON.stringify({ last_event_id: resumeFrom, detail: 'Events after this id were purged (retention window): reload state, then follow the stream.' })}\n\n`);
    const socket = raw.socket;
    if (socket) {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
    }

    let busy = false;
    const gone = () => raw.destroyed || raw.writableEnded;
    // A client gone mid-write is an ordinary end of a stream, not an error to report.
    raw.on('error', () => {});
    const pump = async () => {
      if (busy || gone() || raw.writableNeedDrain) return;
      busy = true;
      try {
        for (;;) {
          const rows = await repo.after(db, cursor, PAGE);
          if (gone()) return;
          for (const e of rows) {
            cursor = e.id;
            if (!topics || topics.has(e.topic)) raw.write(`id: ${e.id}\nevent: ${e.topic}\ndata: ${JSON.stringify(e.payload)}\n\n`);
          }
          if (raw.writableLength > MAX_BUFFERED_BYTES) {
            raw.destroy();
            return;
          }
          if (rows.length < PAGE || raw.writableNeedDrain) return;
        }
      } catch (err) {
        req.log.warn({ err }, 'event stream read failed; retrying at the next poll');
      } finally {
        busy = false;
      }
    };
    const timers: TimerHandle[] = [
      clock.setInterval(() => void pump(), pollMs),
      clock.setInterval(() => gone() || raw.write(': keepalive\n\n'), KEEPALIVE_MS),
    ];
    raw.on('close', () => {
      for (const t of timers) t.cancel();
    });
    void pump();
  });
};
