import type { FastifyBaseLogger } from 'fastify';
import type { WebSocket } from 'ws';
import { AppError, badRequest } from '../../../core/errors.js';
import { hasScope, type ViewerClaims } from '../../../http/viewer-auth/viewer-token.verifier.js';
import { Connection, type ConnectionLimits } from '../hub/connection.js';
import type { Hub } from '../hub/hub.js';
import { sendError, serveConnection } from '../hub/serve.js';
import { admitSocket, type SocketGateOptions } from '../hub/socket-gate.js';
import type { SocketRoute, UpgradeRequest } from '../hub/socket-route.js';
import { parseChatFrame, type ChatFrame } from './chat.frames.js';
import { chatRoom, type ChatService, type Moderation } from './chat.service.js';

interface ChatAdmission {
  claims: ViewerClaims;
  resume: { since: number; epoch: string } | null;
}

const OFFSET = /^(0|[1-9][0-9]{0,15})$/;
const EPOCH = /^[A-Za-z0-9_-]{1,64}$/;

function resumeOf(q: URLSearchParams): ChatAdmission['resume'] {
  const since = q.get('since');
  const epoch = q.get('epoch');
  if (since === null && epoch === null) return null;
  if (since === null || epoch === null) throw badRequest('bad_request', 'Resume needs both since and epoch.');
  if (!OFFSET.test(since)) throw badRequest('bad_request', 'since must be an offset (a non-negative integer).');
  if (!EPOCH.test(epoch)) throw badRequest('bad_request', 'epoch is not one this server gave.');
  return { since: Number(since), epoch };
}

/** `/ws/chat/{session_id}`: the handshake checks, the join, and each frame's dispatch. */
export function chatSocketRoute(d: { chat: ChatService; hub: Hub; gate: Omit<SocketGateOptions, 'readScopes'>; limits: ConnectionLimits; log: FastifyBaseLogger }): SocketRoute<ChatAdmission> {
  const { chat, hub } = d;

  const onFrame = async (conn: Connection, frame: ChatFrame) => {
    const nonce = 'nonce' in frame ? frame.nonce : undefined;
    if (frame.type === 'ping') return void conn.sendJson({ type: 'pong' });
    if (frame.type === 'send') {
      // Checked in order; stored in order too, but the next frame need not wait for the write.
      const { stored } = await chat.send(conn.claims, frame.text);
      stored.then(({ id, offset }) => conn.sendJson({ type: 'ack', nonce, id, offset }), (err: unknown) => sendError(conn, err, nonce, { kind: 'chat', log: d.log }));
      return;
    }
    if (!hasScope(conn.claims, 'moderate')) throw new AppError(403, 'forbidden', `${frame.type} needs the moderate scope.`);
    await chat.moderate(`viewer:${conn.userId}`, conn.claims.sid, moderationOf(frame));
    conn.sendJson({ type: 'ack', nonce });
  };

  return {
    name: 'chat',
    async admit(req: UpgradeRequest) {
      const resume = resumeOf(req.query);
      const claims = await admitSocket(req, { ...d.gate, readScopes: ['view', 'chat', 'moderate'] });
      await chat.admit(claims.sid, claims.sub);
      return { claims, resume };
    },
    connected(socket: WebSocket, { claims, resume }: ChatAdmission, req: UpgradeRequest) {
      const room = chatRoom(claims.sid);
      serveConnection(new Connection(socket, claims, room, req.ip, d.limits), hub, {
        kind: 'chat',
        parse: parseChatFrame,
        onFrame,
        log: d.log,
        async join(conn) {
          const [{ last, frame }, members] = await Promise.all([chat.joinFrame(claims.sid, claims, resume), chat.presence.join(claims.sid, claims.sub).catch(() => null)]);
          if (conn.closed) return;
          conn.sendJson({ ...frame, members });
          chat.relay.known(room, last);
          hub.joined(conn, last);
        },
        onClosed() {
          if (!hub.has(room)) chat.roomEmptied(claims.sid);
          chat.presence.leave(claims.sid, claims.sub).catch((err: unknown) => d.log.warn({ err }, 'chat presence leave failed'));
        },
      });
    },
  };
}

function moderationOf(f: Exclude<ChatFrame, { type: 'send' | 'ping' }>): Moderation {
  switch (f.type) {
    case 'delete':
      return { action: 'delete', message_id: f.id };
    case 'timeout':
      return { action: 'timeout', user_id: f.user_id, seconds: f.seconds, reason: f.reason };
    case 'ban':
      return { action: 'ban', user_id: f.user_id, shadow: f.shadow, reason: f.reason };
    case 'unban':
      return { action: 'unban', user_id: f.user_id };
    case 'slow_mode':
      return { action: 'settings', slow_mode_seconds: f.seconds };
  }
}
