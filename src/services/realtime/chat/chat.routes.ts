import { Type, type Static } from '@sinclair/typebox';
import type { FastifyPluginAsync, FastifyRequest, onRequestAsyncHookHandler } from 'fastify';
import { AppError } from '../../../core/errors.js';
import { ID_PATTERN } from '../../../core/ids.js';
import type { Database } from '../../../core/ports/index.js';
import { decodeCursor, encodeCursor } from '../../../http/pagination.js';
import { MAX_TERMS, termProblem } from './blocklist.js';
import { MAX_SLOW_MODE_SECONDS, MAX_TIMEOUT_SECONDS } from './chat.frames.js';
import { chatRepository as repo } from './chat.repository.js';
import type { ChatService } from './chat.service.js';

const P = { $ref: 'Problem#' };
const SessionParams = Type.Object({ session_id: Type.String({ pattern: ID_PATTERN('ses'), description: 'Session id (ses_…)' }) });
const MessageParams = Type.Object({ session_id: SessionParams.properties.session_id, message_id: Type.String({ pattern: ID_PATTERN('msg') }) });
const UserParams = Type.Object({ session_id: SessionParams.properties.session_id, user_id: Type.String({ minLength: 1, maxLength: 128 }) });
const Page = Type.Object({ limit: Type.Integer({ minimum: 1, maximum: 500, default: 100 }), cursor: Type.Optional(Type.String({ maxLength: 200 })) }, { additionalProperties: false });
const UserId = Type.String({ minLength: 1, maxLength: 128 });
const Reason = Type.Optional(Type.String({ maxLength: 200 }));

const Message = Type.Object({
  id: Type.String(), offset: Type.Integer(), user_id: Type.String(), text: Type.String(), ts: Type.String({ format: 'date-time' }),
  deleted: Type.Boolean(), shadow: Type.Boolean({ description: 'Sent by a shadow-banned user: only that user saw it.' }),
});
const ModerationEntry = Type.Object({
  id: Type.String(), action: Type.String(), actor: Type.String(), target_user_id: Type.Union([Type.String(), Type.Null()]),
  target_message_id: Type.Union([Type.String(), Type.Null()]), detail: Type.Record(Type.String(), Type.Unknown()), at: Type.String({ format: 'date-time' }),
});
const Settings = Type.Object({
  slow_mode_seconds: Type.Integer({ minimum: 0, maximum: MAX_SLOW_MODE_SECONDS }),
  blocked_terms: Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { maxItems: MAX_TERMS, description: 'Words, or patterns where * matches any run of letters or digits (docs/protocol.md).' }),
});
const SettingsPatch = Type.Partial(Settings, { additionalProperties: false, minProperties: 1 });
const BanBody = Type.Object({ user_id: UserId, shadow: Type.Optional(Type.Boolean({ description: 'Shadow ban: the user keeps chatting, no one else sees it.' })), reason: Reason }, { additionalProperties: false });
const TimeoutBody = Type.Object({ user_id: UserId, seconds: Type.Integer({ minimum: 1, maximum: MAX_TIMEOUT_SECONDS }), reason: Reason }, { additionalProperties: false });

interface Options {
  db: Database;
  chat: ChatService;
  operator: onRequestAsyncHookHandler;
}

const actorOf = (req: FastifyRequest) => `operator:${req.operator?.keyId ?? 'unknown'}`;

/**
 * Operator endpoints of chat: history (for late joiners and after the stream), moderation as over the
 * socket, room settings, and the moderation log. Plain GETs of the socket paths say to upgrade.
 */
export const chatRoutes: FastifyPluginAsync<Options> = async (app, { db, chat, operator }) => {
  const tags = ['chat'];
  const security = [{ operatorKey: [] }];

  for (const kind of ['chat', 'captions']) {
    app.get(`/ws/${kind}/:session_id`, { schema: { hide: true } }, async () => {
      throw new AppError(426, 'upgrade_required', `This is a WebSocket endpoint: connect with ws:// or wss:// (docs/protocol.md).`);
    });
  }

  app.get('/api/v1/chat/:session_id/messages', {
    onRequest: operator,
    schema: {
      tags, security, summary: 'A room\'s messages, oldest first (cursor-paginated), including deleted and shadow-banned ones, flagged',
      params: SessionParams, querystring: Page,
      response: { 200: Type.Object({ data: Type.Array(Message), next_cursor: Type.Union([Type.String(), Type.Null()]) }), 400: P, 401: P },
    },
  }, async (req) => {
    const { session_id } = req.params as Static<typeof SessionParams>;
    const q = req.query as Static<typeof Page>;
    const rows = await repo.messages(db, session_id, q.cursor ? decodeCursor(q.cursor, 'msg') : null, q.limit + 1);
    const page = rows.slice(0, q.limit);
    return {
      data: page.map((r) => ({ id: r.id, offset: r.offset, user_id: r.user_id!, text: r.text!, ts: r.ts.toISOString(), deleted: r.deleted_at !== null, shadow: r.shadow })),
      next_cursor: rows.length > q.limit ? encodeCursor(page.at(-1)!.id) : null,
    };
  });

  app.get('/api/v1/chat/:session_id/moderation-log', {
    onRequest: operator,
    schema: {
      tags, security, summary: 'Every moderation action in a room, oldest first (cursor-paginated)',
      params: SessionParams, querystring: Page,
      response: { 200: Type.Object({ data: Type.Array(ModerationEntry), next_cursor: Type.Union([Type.String(), Type.Null()]) }), 400: P, 401: P },
    },
  }, async (req) => {
    const { session_id } = req.params as Static<typeof SessionParams>;
    const q = req.query as Static<typeof Page>;
    const rows = await repo.moderationLog(db, session_id, q.cursor ? decodeCursor(q.cursor, 'mod') : null, q.limit + 1);
    const page = rows.slice(0, q.limit);
    return {
      data: page.map((r) => ({ id: r.id, action: r.action, actor: r.actor, target_user_id: r.target_user_id, target_message_id: r.target_message_id, detail: r.detail, at: r.created_at.toISOString() })),
      next_cursor: rows.length > q.limit ? encodeCursor(page.at(-1)!.id) : null,
    };
  });

  app.delete('/api/v1/chat/:session_id/messages/:message_id', {
    onRequest: operator,
    schema: { tags, security, summary: 'Delete a message: every member gets `deleted`', params: MessageParams, response: { 204: Type.Null(), 400: P, 401: P, 404: P } },
  }, async (req, reply) => {
    const { session_id, message_id } = req.params as Static<typeof MessageParams>;
    await chat.moderate(actorOf(req), session_id, { action: 'delete', message_id });
    return reply.code(204).send();
  });

  app.post('/api/v1/chat/:session_id/bans', {
    onRequest: operator,
    schema: { tags, security, summary: 'Ban (or shadow-ban) a user: their sockets close with 4003 on every instance', params: SessionParams, body: BanBody, response: { 204: Type.Null(), 400: P, 401: P, 404: P, 415: P } },
  }, async (req, reply) => {
    const { session_id } = req.params as Static<typeof SessionParams>;
    await chat.moderate(actorOf(req), session_id, { action: 'ban', ...(req.body as Static<typeof BanBody>) });
    return reply.code(204).send();
  });

  app.delete('/api/v1/chat/:session_id/bans/:user_id', {
    onRequest: operator,
    schema: { tags, security, summary: 'Lift a user\'s ban, shadow ban and timeout', params: UserParams, response: { 204: Type.Null(), 400: P, 401: P } },
  }, async (req, reply) => {
    const { session_id, user_id } = req.params as Static<typeof UserParams>;
    await chat.moderate(actorOf(req), session_id, { action: 'unban', user_id });
    return reply.code(204).send();
  });

  app.post('/api/v1/chat/:session_id/timeouts', {
    onRequest: operator,
    schema: { tags, security, summary: 'Time a user out: they cannot send for `seconds`', params: SessionParams, body: TimeoutBody, response: { 204: Type.Null(), 400: P, 401: P, 404: P, 415: P } },
  }, async (req, reply) => {
    const { session_id } = req.params as Static<typeof SessionParams>;
    await chat.moderate(actorOf(req), session_id, { action: 'timeout', ...(req.body as Static<typeof TimeoutBody>) });
    return reply.code(204).send();
  });

  app.get('/api/v1/chat/:session_id/settings', {
    onRequest: operator,
    schema: { tags, security, summary: 'A room\'s slow mode and blocklist', params: SessionParams, response: { 200: Settings, 400: P, 401: P, 404: P } },
  }, async (req) => chat.settings((req.params as Static<typeof SessionParams>).session_id));

  app.patch('/api/v1/chat/:session_id/settings', {
    onRequest: operator,
    schema: { tags, security, summary: 'Change a room\'s slow mode or blocklist (every instance applies it at once)', params: SessionParams, body: SettingsPatch, response: { 200: Settings, 400: P, 401: P, 404: P, 415: P } },
  }, async (req) => {
    const { session_id } = req.params as Static<typeof SessionParams>;
    const patch = req.body as Static<typeof SettingsPatch>;
    const bad = (patch.blocked_terms ?? []).map((t, i) => [i, termProblem(t)] as const).find(([, p]) => p);
    if (bad) throw new AppError(400, 'validation_failed', `blocked_terms/${bad[0]} ${bad[1]}.`);
    await chat.moderate(actorOf(req), session_id, { action: 'settings', ...patch });
    return chat.settings(session_id);
  });
};
