import type { FastifyBaseLogger } from 'fastify';
import { AppError, DependencyUnavailableError } from '../../../core/errors.js';
import { CLOSE } from './close-codes.js';
import type { Connection } from './connection.js';
import { BadFrame } from './frames.js';
import type { Hub } from './hub.js';

export interface ServeOptions<F> {
  /** What this socket carries, for logs ('chat', 'captions'). */
  kind: string;
  parse(text: string): F;
  onFrame(conn: Connection, frame: F): Promise<void>;
  /** Sends the `joined` frame and ends the joining phase (hub.joined). */
  join(conn: Connection): Promise<void>;
  /** After the socket closed and left the hub. */
  onClosed(conn: Connection): void;
  log: FastifyBaseLogger;
}

/**
 * Runs one accepted socket: registers it with the hub, joins it, then handles its frames one after
 * the other (a user's messages keep their order, and `joined` is always the first frame because the
 * join leads the queue), answering failures with `error` frames of the protocol's codes.
 */
export function serveConnection<F>(conn: Connection, hub: Hub, o: ServeOptions<F>) {
  const { socket } = conn;
  hub.add(conn);
  socket.on('error', () => {}); // ws reports protocol errors here and then closes; the close is what matters
  socket.on('close', () => {
    conn.closed = true;
    hub.remove(conn);
    o.onClosed(conn);
  });
  socket.on('message', (data, isBinary) => {
    if (isBinary) return conn.close(CLOSE.unsupportedData, 'text frames only');
    if (!conn.admitFrame()) return;
    const text = Array.isArray(data) ? Buffer.concat(data).toString('utf8') : Buffer.from(data as ArrayBuffer).toString('utf8');
    conn.busy = conn.busy.then(() => handle(text));
  });
  conn.busy = o.join(conn).catch((err: unknown) => {
    o.log.warn({ err, session_id: conn.claims.sid }, `${o.kind} join failed`);
    conn.close(CLOSE.tryAgainLater, 'try again later');
  });

  async function handle(text: string) {
    let nonce: string | undefined;
    try {
      const frame = o.parse(text);
      const n = (frame as { nonce?: unknown }).nonce;
      nonce = typeof n === 'string' ? n : undefined;
      await o.onFrame(conn, frame);
    } catch (err) {
      sendError(conn, err, nonce, o);
    }
  }
}

/** Answers a failed frame with the protocol's `error` frame (an unexpected failure is logged, not shown). */
export function sendError(conn: Connection, err: unknown, nonce: string | undefined, o: { kind: string; log: FastifyBaseLogger }) {
  if (err instanceof BadFrame) return void conn.sendJson({ type: 'error', code: 'bad_frame', detail: err.message, ...(err.nonce ? { nonce: err.nonce } : {}) });
  // A backend outage is the protocol's `unavailable` (nothing was stored): send again shortly.
  if (err instanceof DependencyUnavailableError) return void conn.sendJson({ type: 'error', code: 'unavailable', detail: `The ${err.dependency} is unavailable; send again shortly.`, ...(nonce ? { nonce } : {}) });
  if (err instanceof AppError) {
    const retry = err.extra.retry_after_ms;
    return void conn.sendJson({ type: 'error', code: err.code, detail: err.message, ...(nonce ? { nonce } : {}), ...(typeof retry === 'number' ? { retry_after_ms: retry } : {}) });
  }
  o.log.error({ err, session_id: conn.claims.sid, user_id: conn.userId }, `${o.kind} frame failed`);
  conn.sendJson({ type: 'error', code: 'unavailable', detail: 'The frame could not be handled; try again.', ...(nonce ? { nonce } : {}) });
}
