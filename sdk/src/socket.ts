import { Backoff, systemTimers, type Timers } from './backoff.js';
import { handshakeStatus, verdictOf } from './close-policy.js';
import type { Closed, ConnectionOptions, ConnectionState, StateChange, TerminalReason, WebSocketConstructor, WebSocketLike } from './socket-options.js';
import { StreamplaneError } from './errors.js';
import { expiresSoon, randomUuid } from './token.js';

export type { Closed, ConnectionOptions, ConnectionState, StateChange, TerminalReason, WebSocketConstructor, WebSocketLike } from './socket-options.js';

export type ServerFrame = { type: string } & Record<string, unknown>;

export interface CoreHooks {
  route: 'chat' | 'captions';
  /** Extra query parameters for the next connection (resume position). */
  resumeParams(): Record<string, string>;
  /** Every frame except answers to this client's requests. */
  onFrame(frame: ServerFrame): void;
  onState(change: StateChange): void;
  onClosed(info: Closed): void;
}

interface Pending {
  resolve(frame: ServerFrame): void;
  reject(err: StreamplaneError): void;
}

/**
 * The reconnecting socket chat and captions share: token handling, the close-code policy, backoff,
 * keepalive, and requests answered by an `ack` or `error` frame carrying their nonce.
 */
export class SocketCore {
  state: ConnectionState = 'idle';
  private ws: WebSocketLike | null = null;
  private token: string | undefined;
  private refreshToken = false;
  private failedHandshakes = 0;
  private stopped = false;
  private generation = 0;
  private reconnectTimer: unknown = null;
  private pingTimer: unknown = null;
  private heard = true;
  private nonceSeq = 0;
  private readonly noncePrefix = randomUuid().slice(0, 8);
  private readonly pending = new Map<string, Pending>();
  private waiters: Pending[] = [];
  private readonly backoff: Backoff;
  private readonly timers: Timers;
  private readonly Ctor: WebSocketConstructor;

  constructor(
    private readonly opts: ConnectionOptions,
    private readonly hooks: CoreHooks,
  ) {
    if (!opts.token && !opts.getToken) throw new TypeError('pass token or getToken');
    // Typed as the DOM's WebSocket, so this also checks that a browser's fits WebSocketConstructor;
    // undefined at runtime in Node < 22.
    const Ctor: WebSocketConstructor | undefined = opts.WebSocket ?? globalThis.WebSocket;
    if (typeof Ctor !== 'function') throw new TypeError('no WebSocket in this runtime: pass { WebSocket } (e.g. from the ws package)');
    this.Ctor = Ctor;
    this.token = opts.token;
    this.backoff = new Backoff(opts.backoff);
    this.timers = opts.timers ?? systemTimers;
  }

  /** Starts connecting (once); resolves when joined, rejects if the client stops first. */
  connect(): Promise<void> {
    if (this.stopped) return Promise.reject(new StreamplaneError('closed', 'this client was closed; create a new one'));
    if (this.state === 'connected') return Promise.resolve();
    const joined = new Promise<void>((resolve, reject) => this.waiters.push({ resolve: () => resolve(), reject }));
    if (this.state === 'idle') void this.open();
    return joined;
  }

  /** Closes for good. Requests still waiting for their answer are rejected with `disconnected`. */
  close(): void {
    if (this.stopped) return;
    const ws = this.ws;
    this.ws = null;
    try {
      ws?.close(1000, 'client closed');
    } catch {
      // already closing
    }
    this.finish('client', 1000, 'closed by the client');
  }

  /** The protocol layer saw its `joined` frame: the socket is usable. */
  joined(): void {
    this.backoff.reset();
    this.failedHandshakes = 0;
    this.setState({ state: 'connected' });
    this.startPing();
    for (const w of this.waiters.splice(0)) w.resolve({ type: 'joined' });
  }

  /**
   * Sends `frame` with a fresh nonce; resolves with the `ack`, rejects with the `error` of that nonce,
   * or with `disconnected` if the socket drops first. Never resent: the server may have applied it.
   */
  request(frame: Record<string, unknown>): Promise<ServerFrame> {
    const ws = this.ws;
    if (this.state !== 'connected' || !ws) return Promise.reject(new StreamplaneError('not_connected', `not connected (${this.state})`));
    const nonce = `${this.noncePrefix}-${++this.nonceSeq}`;
    return new Promise((resolve, reject) => {
      this.pending.set(nonce, { resolve, reject });
      try {
        ws.send(JSON.stringify({ ...frame, nonce }));
      } catch (err) {
        this.pending.delete(nonce);
        reject(new StreamplaneError('disconnected', `send failed: ${String(err)}`));
      }
    });
  }

  private async open(): Promise<void> {
    const gen = ++this.generation;
    this.setState({ state: 'connecting' });
    let token: string;
    try {
      token = await this.tokenForAttempt();
    } catch (err) {
      if (gen === this.generation && !this.stopped) this.retry(0, 1006, `getToken failed: ${String(err)}`);
      return;
    }
    if (gen !== this.generation || this.stopped) return;
    const url = new URL(this.opts.baseUrl);
    url.protocol = url.protocol === 'https:' || url.protocol === 'wss:' ? 'wss:' : 'ws:';
    url.pathname = `${url.pathname.replace(/\/$/, '')}/ws/${this.hooks.route}/${encodeURIComponent(this.opts.sessionId)}`;
    url.search = '';
    for (const [k, v] of Object.entries(this.hooks.resumeParams())) url.searchParams.set(k, v);
    const bySubprotocol = this.opts.tokenTransport === 'subprotocol';
    if (!bySubprotocol) url.searchParams.set('access_token', token);
    let ws: WebSocketLike;
    try {
      ws = new this.Ctor(url.href, bySubprotocol ? ['streamplane.v1', `bearer.${token}`] : undefined);
    } catch (err) {
      return this.finish('bad_request', null, `cannot open ${url.origin}: ${String(err)}`);
    }
    this.ws = ws;
    let opened = false;
    let status: number | null = null;
    ws.onopen = () => (opened = true);
    ws.onerror = (ev: Parameters<typeof handshakeStatus>[0]) => {
      status = handshakeStatus(ev) ?? status;
    };
    ws.onmessage = (ev: { data: unknown }) => {
      if (this.ws !== ws) return;
      this.heard = true;
      if (typeof ev.data !== 'string') return; // the protocol is text frames only
      let frame: unknown;
      try {
        frame = JSON.parse(ev.data);
      } catch {
        return;
      }
      if (typeof frame === 'object' && frame !== null && typeof (frame as ServerFrame).type === 'string') this.dispatch(frame as ServerFrame);
    };
    ws.onclose = (ev: { code?: number; reason?: string }) => {
      if (this.ws === ws) this.dropped(ev.code ?? 1006, ev.reason ?? '', opened, status);
    };
  }

  private async tokenForAttempt(): Promise<string> {
    const { getToken } = this.opts;
    if (getToken && (this.token === undefined || this.refreshToken || expiresSoon(this.token))) {
      this.token = await getToken();
      this.refreshToken = false;
    }
    if (!this.token) throw new StreamplaneError('unauthorized', 'no token');
    return this.token;
  }

  private dispatch(frame: ServerFrame): void {
    if (frame.type === 'pong') return;
    if ((frame.type === 'ack' || frame.type === 'error') && typeof frame.nonce === 'string') {
      const p = this.pending.get(frame.nonce);
      if (p) {
        this.pending.delete(frame.nonce);
        if (frame.type === 'ack') p.resolve(frame);
        else p.reject(new StreamplaneError(String(frame.code), String(frame.detail ?? frame.code), typeof frame.retry_after_ms === 'number' ? frame.retry_after_ms : undefined));
        return;
      }
    }
    this.hooks.onFrame(frame);
  }

  private dropped(code: number, reason: string, opened: boolean, status: number | null): void {
    this.ws = null;
    this.stopPing();
    this.rejectPending();
    if (this.stopped) return;
    if (!opened) this.failedHandshakes++;
    const v = verdictOf(code, opened, status);
    if (v.kind === 'stop') return this.finish(v.reason, status ?? code, reason || (status ? `handshake refused with HTTP ${status}` : `closed with ${code}`));
    if (v.kind === 'refresh') {
      if (!this.opts.getToken) return this.finish('unauthorized', status ?? code, 'the token expired or was revoked, and no getToken was given');
      this.refreshToken = true;
    } else if (!opened && this.failedHandshakes >= 2) {
      // A browser cannot see why a handshake was refused; after two in a row the token is suspect.
      this.refreshToken = true;
    }
    this.retry(v.kind === 'retry' ? v.minDelayMs : 0, code, reason);
  }

  private retry(minDelayMs: number, code: number, reason: string): void {
    if (this.backoff.attempts >= (this.opts.maxReconnectAttempts ?? Infinity)) return this.finish('gave_up', code, `gave up after ${this.backoff.attempts} attempts`);
    const delay = Math.max(minDelayMs, this.backoff.next());
    this.setState({ state: 'reconnecting', code, reason, delay_ms: delay });
    this.reconnectTimer = this.timers.setTimeout(() => {
      this.reconnectTimer = null;
      if (!this.stopped) void this.open();
    }, delay);
  }

  private finish(reason: TerminalReason, code: number | null, detail: string): void {
    this.stopped = true;
    this.generation++;
    this.stopPing();
    if (this.reconnectTimer !== null) this.timers.clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    this.rejectPending();
    for (const w of this.waiters.splice(0)) w.reject(new StreamplaneError(reason, detail));
    this.setState({ state: 'closed', ...(code !== null ? { code } : {}), reason: detail });
    this.hooks.onClosed({ reason, code, detail });
  }

  private rejectPending(): void {
    for (const p of this.pending.values()) p.reject(new StreamplaneError('disconnected', 'the socket closed before the answer; the request may or may not have been applied'));
    this.pending.clear();
  }

  /** Browsers cannot see WebSocket pings: an application-level ping is how a client notices a dead link. */
  private startPing(): void {
    const every = this.opts.pingIntervalMs ?? 25_000;
    if (every <= 0) return;
    this.heard = true;
    const tick = () => {
      const ws = this.ws;
      if (!ws) return;
      if (!this.heard) {
        // The close handshake cannot complete on a dead link: do not wait for its event.
        this.ws = null;
        try {
          ws.close(4000, 'no answer to ping');
        } catch {
          // ignore
        }
        return this.dropped(1006, 'no answer to ping', true, null);
      }
      this.heard = false;
      try {
        ws.send('{"type":"ping"}');
      } catch {
        // closing: the close event follows
      }
      this.pingTimer = this.timers.setTimeout(tick, every);
    };
    this.pingTimer = this.timers.setTimeout(tick, every);
  }

  private stopPing(): void {
    if (this.pingTimer !== null) this.timers.clearTimeout(this.pingTimer);
    this.pingTimer = null;
  }

  private setState(change: StateChange): void {
    this.state = change.state;
    this.hooks.onState(change);
  }
}
