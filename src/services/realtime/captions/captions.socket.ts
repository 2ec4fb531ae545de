import type { FastifyBaseLogger } from 'fastify';
import type { WebSocket } from 'ws';
import type { ViewerClaims } from '../../../http/viewer-auth/viewer-token.verifier.js';
import { Connection, type ConnectionLimits } from '../hub/connection.js';
import type { Hub } from '../hub/hub.js';
import { serveConnection } from '../hub/serve.js';
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

  return {
    name: 'captions',
    async admit(req: UpgradeRequest) {
      const claims = await admitSocket(req, { ...d.gate, readScopes: ['view', 'publish_captions'] });
      await captions.admit(claims.sid);
      return claims;
    },
    connected(socket: WebSocket, claims: ViewerClaims, req: UpgradeRequest) {
      const room = captionsRoom(claims.sid);
      // One frame after the other per socket: a captioner's cues are stored (and get seqs) in send order.
      serveConnection(new Connection(socket, claims, room, req.ip, d.limits), hub, {
        kind: 'captions',
        parse: parseCaptionFrame,
        onFrame,
        log: d.log,
        async join(conn) {
          const { last, frame } = await captions.joinFrame(claims.sid);
          if (conn.closed) return;
          conn.sendJson(frame);
          captions.relay.known(room, last);
          hub.joined(conn, last);
        },
        onClosed() {
          if (!hub.has(room)) captions.roomEmptied(claims.sid);
        },
      });
    },
  };
}
