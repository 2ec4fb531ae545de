import { Emitter } from './emitter.js';
import { StreamplaneError } from './errors.js';
import { SocketCore, type Closed, type ConnectionOptions, type ConnectionState, type ServerFrame, type StateChange } from './socket.js';

/** A chat message as the server delivers it (docs/protocol.md). */
export interface ChatMessage {
  type: 'message';
  id: string;
  offset: number;
  user_id: string;
  text: string;
  ts: string;
}
export interface ChatDeleted {
  type: 'deleted';
  id: string;
  offset: number;
}
export interface ChatJoined {
  type: 'joined';
  epoch: string;
  offset: number;
  recovered: boolean;
  history: Array<ChatMessage | ChatDeleted>;
  user_id: string;
  scopes: string[];
  slow_mode_seconds: number;
  /** Whether this join followed a lost connection (a resume was attempted). */
  resumed: boolean;
}
/** The history to show instead of whatever the application showed so far. */
export interface ChatReset {
  epoch: string;
  offset: number;
  messages: ChatMessage[];
}

export interface ChatEvents {
  joined: ChatJoined;
  reset: ChatReset;
  message: ChatMessage;
  deleted: ChatDeleted;
  slow_mode: { seconds: number };
  /** An `error` frame that answers none of this client's pending requests. */
  error: StreamplaneError;
  state: StateChange;
  closed: Closed;
}

export type ChatClientOptions = ConnectionOptions;

/**
 * Chat over `/ws/chat/{session_id}`: reconnects with backoff and resumes from the last offset it saw.
 *
 * Delivery contract: `reset` carries the full list to show (first join, and any join the server could
 * not resume); after it, `message` and `deleted` arrive in offset order and an offset is never
 * emitted twice, across reconnects included.
 */
export class ChatClient {
  private readonly core: SocketCore;
  private readonly events = new Emitter<ChatEvents>();
  private epoch: string | null = null;
  private lastOffset = 0;

  constructor(opts: ChatClientOptions) {
    this.core = new SocketCore(opts, {
      route: 'chat',
      resumeParams: (): Record<string, string> => (this.epoch === null ? {} : { since: String(this.lastOffset), epoch: this.epoch }),
      onFrame: (f) => this.onFrame(f),
      onState: (s) => this.events.emit('state', s),
      onClosed: (c) => this.events.emit('closed', c),
    });
  }

  on<K extends keyof ChatEvents>(event: K, listener: (payload: ChatEvents[K]) => void): () => void {
    return this.events.on(event, listener);
  }
  once<K extends keyof ChatEvents>(event: K, listener: (payload: ChatEvents[K]) => void): () => void {
    return this.events.once(event, listener);
  }
  off<K extends keyof ChatEvents>(event: K, listener: (payload: ChatEvents[K]) => void): void {
    this.events.off(event, listener);
  }

  get state(): ConnectionState {
    return this.core.state;
  }

  /** The last offset delivered (resume position). */
  get offset(): number {
    return this.lastOffset;
  }

  /** Connects; resolves at the first `joined`, rejects (StreamplaneError with the terminal reason as code) if the client stops first. */
  connect(): Promise<void> {
    return this.core.connect();
  }

  close(): void {
    this.core.close();
  }

  /**
   * Sends a message; resolves once the server stored it. Rejects with the server's error (`too_long`,
   * `rate_limited` with `retry_after_ms`, …) or with `disconnected` when the socket dropped before the
   * ack: the message may or may not have been stored, and it is not resent (a resend could duplicate it).
   */
  async send(text: string): Promise<{ id: string; offset: number }> {
    const ack = await this.core.request({ type: 'send', text });
    return { id: String(ack.id), offset: Number(ack.offset) };
  }

  /** Moderation (scope `moderate`); each resolves at the server's ack. */
  async deleteMessage(id: string): Promise<void> {
    await this.core.request({ type: 'delete', id });
  }
  async timeout(userId: string, seconds: number, reason?: string): Promise<void> {
    await this.core.request({ type: 'timeout', user_id: userId, seconds, ...(reason !== undefined ? { reason } : {}) });
  }
  async ban(userId: string, opts: { shadow?: boolean; reason?: string } = {}): Promise<void> {
    await this.core.request({ type: 'ban', user_id: userId, ...opts });
  }
  async unban(userId: string): Promise<void> {
    await this.core.request({ type: 'unban', user_id: userId });
  }
  /** 0 turns slow mode off. */
  async slowMode(seconds: number): Promise<void> {
    await this.core.request({ type: 'slow_mode', seconds });
  }

  private onFrame(f: ServerFrame): void {
    switch (f.type) {
      case 'joined':
        return this.onJoined(f as unknown as Omit<ChatJoined, 'resumed'>);
      case 'message':
      case 'deleted':
        return this.deliver(f as unknown as ChatMessage | ChatDeleted);
      case 'slow_mode':
        return this.events.emit('slow_mode', { seconds: Number(f.seconds) });
      case 'error':
        return this.events.emit('error', new StreamplaneError(String(f.code), String(f.detail ?? f.code), typeof f.retry_after_ms === 'number' ? f.retry_after_ms : undefined));
      default:
      // A frame type added to the protocol later: ignored rather than failing old clients.
    }
  }

  private onJoined(j: Omit<ChatJoined, 'resumed'>): void {
    const resumed = this.epoch !== null;
    const history = Array.isArray(j.history) ? j.history : [];
    this.core.joined();
    this.events.emit('joined', { ...j, history, resumed });
    if (resumed && j.recovered && j.epoch === this.epoch) {
      // Exactly the missed events, in order; what this client already has is skipped by offset.
      for (const f of history) this.deliver(f);
    } else {
      // Not resumable (first join, another epoch, too far behind): start over from this history.
      this.epoch = j.epoch;
      this.lastOffset = 0;
      const messages = history.filter((f): f is ChatMessage => f.type === 'message');
      for (const m of messages) this.lastOffset = Math.max(this.lastOffset, m.offset);
      this.events.emit('reset', { epoch: j.epoch, offset: j.offset, messages });
    }
    // joined.offset is the room's latest: later frames are above it, and the next resume starts there.
    this.lastOffset = Math.max(this.lastOffset, Number(j.offset) || 0);
  }

  private deliver(f: ChatMessage | ChatDeleted): void {
    if (!(f.offset > this.lastOffset)) return;
    this.lastOffset = f.offset;
    if (f.type === 'message') this.events.emit('message', f);
    else this.events.emit('deleted', f);
  }
}
