import type { WebSocket } from 'ws';
import type { ViewerClaims } from '../../../http/viewer-auth/viewer-token.verifier.js';
import { CLOSE, type CloseCode } from './close-codes.js';
import { rawSocket } from './wire.js';

/** What a connection needs from its surroundings: limits, and the clock for flood windows. */
export interface ConnectionLimits {
  maxBufferedBytes: number;
  maxFramesPer10s: number;
  now(): number;
  /** Told of every close the server decides (metrics). */
  onServerClose?(code: number): void;
}


/**
 * One local socket: its viewer, its room, the last offset it has seen (so history, replay and live
 * events never reach it twice), and the guards against floods and slow readers. Kept small: an idle
 * instance holds tens of thousands of these.
 */
export class Connection {
  /** Highest room offset delivered; -1 while joining (live events queue in `pending` meanwhile). */
  lastOffset = -1;
  pending: Array<{ offset: number; data: string; onlyFor: string | null }> | null = [];
  alive = true;
  closed = false;
  /** Which keepalive slice pings this socket (the hub spreads pings over the interval). */
  pingSlice = 0;
  /** The socket's queue when the hub corked it for this tick (null when not corked). */
  backlogBeforeCork: number | null = null;
  /** Frames of one socket are handled one after the other, so a user's messages keep their order. */
  busy: Promise<void> = Promise.resolve();
  private windowStart = 0;
  private frames = 0;

  constructor(
    readonly socket: WebSocket,
    readonly claims: ViewerClaims,
    readonly room: string,
    readonly ip: string,
    private readonly limits: ConnectionLimits,
  ) {}

  /** Cuts a peer that cannot be closed politely (no pong, or a close it never answered). */
  terminate() {
    if (!this.closed) this.limits.onServerClose?.(1006);
    this.closed = true;
    this.socket.terminate();
  }

  get userId() {
    return this.claims.sub;
  }

  /** Sends (through ws) unless the reader has fallen behind. */
  send(data: string): boolean {
    if (this.closed || !this.keepsUp()) return false;
    this.socket.send(data, { binary: false });
    return true;
  }

  /** Writes a frame built once for every socket (wire.ts) straight to this socket, under the same bound. */
  sendFrame(frame: Buffer): boolean {
    if (this.closed || this.socket.readyState !== 1 || !this.keepsUp()) return false;
    const raw = rawSocket(this.socket);
    if (!raw) return false;
    raw.write(frame);
    return true;
  }

  /**
   * False, and the socket closed with 4008, when its queue is already over the bound: a reader that
   * does not keep up is disconnected rather than allowed to grow the server's memory.
   */
  private keepsUp(): boolean {
    if ((this.backlogBeforeCork ?? this.socket.bufferedAmount) <= this.limits.maxBufferedBytes) return true;
    this.close(CLOSE.slowConsumer, 'slow consumer');
    return false;
  }

  sendJson(frame: object) {
    return this.send(JSON.stringify(frame));
  }

  /** Counts an inbound frame; false (and the socket closed with 4029) past the flood limit. */
  admitFrame(): boolean {
    const now = this.limits.now();
    if (now - this.windowStart >= 10_000) {
      this.windowStart = now;
      this.frames = 0;
    }
    if (++this.frames > this.limits.maxFramesPer10s) {
      this.close(CLOSE.flood, 'too many frames');
      return false;
    }
    return true;
  }

  /**
   * Closes with a code; a socket whose peer does not complete the closing handshake (it may not be
   * reading at all) is cut by `terminate` from the hub's next keepalive tick.
   */
  close(code: CloseCode, reason: string) {
    if (this.closed) return;
    this.closed = true;
    this.alive = false;
    this.limits.onServerClose?.(code);
    try {
      this.socket.close(code, reason);
    } catch {
      this.socket.terminate();
    }
  }
}
