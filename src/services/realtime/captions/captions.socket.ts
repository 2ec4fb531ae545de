import type { FastifyBaseLogger } from 'fastify';
import type { WebSocket } from 'ws';
import { AppError } from '../../../core/errors.js';
import type { ViewerClaims } from '../../../http/viewer-auth/viewer-token.verifier.js';
import { CLOSE } from '../hub/close-codes.js';
import { Connection, type ConnectionLimits } from '../hub/connection.js';
import { BadFrame } from '../hub/frames.js';
import type { Hub } from '../hub/hub.js';
import { admitSocket, type SocketGateOptions } from '../hub/socket-gate.js';
import type { SocketRoute, UpgradeRequest } from '../hub/socket-route.js';
import { parseCaptionFrame, type CaptionFrame } from './captions.frames.js';
import { captionsRoom, type CaptionsService } from './captions.service.js';

/** `/ws/captions/{session_id}`: the handshake checks, the join, and each frame's dispatch. */
export function captionsSocketRoute(d: {
  captions: CaptionsService;
  hub: Hub;
  gate: Omit<SocketGateOptions, 'readScopes'>;
  limits: ConnectionLimits;
  log: FastifyBaseLogger;
}): SocketRoute<ViewerClaims> {
  const { captions, hub } = d;

  const onFrame = async (conn: Connection, frame: CaptionFrame) => {
    if (frame.type === 'ping') return void conn.sendJson({ type: 'pong' });
    const seq = await captions.publish(conn.claims, frame);
    conn.sendJson({ type: 'ack', nonce: frame.nonce, seq });
  };

  const handle = (conn: Connection, data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean) => {
    if (isBinary) return conn.close(CLOSE.unsupportedData, 'text frames only');
    if (!conn.admitFrame()) return;
    const text = Array.isArray(data) ? Buffer.concat(data).toString('utf8') : Buffer.from(data as ArrayBuffer).toString('utf8');
    // One frame after the other per socket: a captioner's cues are stored (and get seqs) in send order.
    conn.busy = conn.busy.then(async () => {
      let nonce: string | undefined;
      try {
        const frame = parseCaptionFrame(text);
        nonce = frame.nonce;
        await onFrame(conn, frame);
      } catch (err) {
        if (err instanceof BadFrame) return void conn.sendJson({ type: 'error', code: 'bad_frame', detail: err.message, ...(err.nonce ? { nonce: err.nonce } : {}) });
        if (err instanceof AppError) return void conn.sendJson({ type: 'error', code: err.code, detail: err.message, ...(nonce ? { nonce } : {}) });
        d.log.error({ err, session_id: conn.claims.sid, user_id: conn.userId }, 'caption frame failed');
        conn.sendJson({ type: 'error', code: 'unavailable', detail: 'The frame could not be handled; try again.', ...(nonce ? { nonce } : {}) });
      }
    });
  };

  return {
    name: 'captions',
    async admit(req: UpgradeRequest) {
      const claims = await admitSocket(req, { ...d.gate, readScopes: ['view', 'publish_captions'] });
      await captions.admit(claims.sid);
      return claims;
    },
    connected(socket: WebSocket, claims: ViewerClaims, req: UpgradeRequest) {
      const room = captionsRoom(claims.sid);
      const conn = new Connection(socket, claims, room, req.ip, d.limits);
      hub.add(conn);
      socket.on('error', () => {}); // ws reports protocol errors here and then closes; the close is what matters
      socket.on('close', () => {
        conn.closed = true;
        hub.remove(conn);
        if (!hub.has(room)) captions.roomEmptied(claims.sid);
      });
      socket.on('message', (data, isBinary) => handle(conn, data, isBinary));
      // Frames sent before the join completes wait for it: `joined` is the first frame a client gets,
      // even when it sends a cue at once.
      conn.busy = captions.joinFrame(claims.sid).then(
        ({ last, frame }) => {
          if (conn.closed) return;
          conn.sendJson(frame);
          captions.relay.known(room, last);
          hub.joined(conn, last);
        },
        (err: unknown) => {
          d.log.warn({ err, session_id: claims.sid }, 'captions join failed');
          conn.close(CLOSE.tryAgainLater, 'try again later');
        },
      );
    },
  };
}
