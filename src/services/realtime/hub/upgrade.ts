import { randomUUID } from 'node:crypto';
import { STATUS_CODES, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import { WebSocketServer } from 'ws';
import { AppError } from '../../../core/errors.js';
import { problemDocument } from '../../../http/problem.js';
import { selectProtocol, type AnySocketRoute, type UpgradeRequest } from './socket-route.js';

const PATH = /^\/ws\/([a-z]+)\/([^/?#]{1,200})\/?$/;

/**
 * Guards the raw socket until ws takes it over. A module-level function, not a closure: a closure made
 * in onUpgrade would share its scope with the callbacks that use the request, and as a listener on a
 * socket that lives for hours it kept every socket's upgrade request (and its token) in memory.
 */
function destroyOnError(this: Duplex) {
  this.destroy();
}

/**
 * Takes WebSocket upgrades off the HTTP server and hands them to the socket routes. Done here rather
 * than through a Fastify route so that an open socket holds no Fastify request, reply or response
 * objects (an idle instance holds tens of thousands of sockets), and so that a refusal is an HTTP
 * status with a problem document, which a browser can see.
 */
export function attachUpgrades(app: FastifyInstance, opts: { maxPayloadBytes: number; trustProxy: boolean; log: FastifyBaseLogger }, routes: AnySocketRoute[]) {
  const wss = new WebSocketServer({ noServer: true, maxPayload: opts.maxPayloadBytes, perMessageDeflate: false, clientTracking: false, handleProtocols: selectProtocol });
  const byName = new Map(routes.map((r) => [r.name, r]));

  const refuse = (socket: Duplex, url: string, requestId: string, status: number, code: string, detail: string) => {
    const body = JSON.stringify(problemDocument(status, code, detail, url, requestId));
    socket.end(
      `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nContent-Type: application/problem+json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
        `X-Request-Id: ${requestId}\r\nConnection: close\r\n\r\n${body}`,
    );
  };

  const onUpgrade = (raw: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', destroyOnError);
    const url = raw.url ?? '/';
    const requestId = randomUUID();
    const [path, search = ''] = url.split('?', 2) as [string, string?];
    const m = PATH.exec(path);
    const route = m ? byName.get(m[1]!) : undefined;
    if (!m || !route) return refuse(socket, url, requestId, 404, 'not_found', `No socket at ${path}.`);
    let sessionId: string;
    try {
      sessionId = decodeURIComponent(m[2]!);
    } catch {
      return refuse(socket, url, requestId, 400, 'bad_request', 'The session id is not valid percent-encoding.');
    }
    const forwarded = raw.headers['x-forwarded-for'];
    const ip = (opts.trustProxy && typeof forwarded === 'string' && forwarded.split(',')[0]!.trim()) || raw.socket.remoteAddress || 'unknown';
    const req: UpgradeRequest = { params: { session_id: sessionId }, query: new URLSearchParams(search), headers: raw.headers, ip, url };
    route.admit(req).then(
      (admission) => {
        if (socket.destroyed) return;
        wss.handleUpgrade(raw, socket, head, (ws) => {
          socket.removeListener('error', destroyOnError); // ws has its own now
          route.connected(ws, admission, req);
        });
      },
      (err: unknown) => {
        if (err instanceof AppError) return refuse(socket, url, requestId, err.status, err.code, err.message);
        opts.log.warn({ err, request_id: requestId }, 'socket admission failed');
        refuse(socket, url, requestId, 503, 'dependency_unavailable', 'The socket could not be admitted now; retry shortly.');
      },
    );
  };
  app.server.on('upgrade', onUpgrade);
  app.addHook('preClose', (done) => {
    app.server.removeListener('upgrade', onUpgrade);
    done();
  });
}
