import { Emitter } from './emitter.js';
import { StreamplaneError } from './errors.js';
import { SocketCore, type Closed, type ConnectionOptions, type ConnectionState, type ServerFrame, type StateChange } from './socket.js';

/** A caption cue as the server delivers it (docs/protocol.md). */
export interface Cue {
  type: 'cue';
  seq: number;
  start_ms: number;
  end_ms: number;
  text: string;
  /** BCP 47 tag: `en`, `pt-BR`. */
  lang: string;
  ts: string;
}
export type CueInput = Pick<Cue, 'start_ms' | 'end_ms' | 'text' | 'lang'>;

export interface CaptionsJoined {
  type: 'joined';
  /** The session's latest cue sequence number when this socket joined. */
  seq: number;
  cues: Cue[];
  resumed: boolean;
}

export interface CaptionsEvents {
  joined: CaptionsJoined;
  cue: Cue;
  error: StreamplaneError;
  state: StateChange;
  closed: Closed;
}

export type CaptionsClientOptions = ConnectionOptions;

/**
 * Captions over `/ws/captions/{session_id}`, on the same reconnecting socket as chat. The captions
 * protocol has no resume: each `joined` carries the latest cues, and the client emits only those it
 * has not emitted yet (by `seq`), so a reconnect neither repeats cues nor loses recent ones.
 */
export class CaptionsClient {
  private readonly core: SocketCore;
  private readonly events = new Emitter<CaptionsEvents>();
  private lastSeq = 0;
  private everJoined = false;

  constructor(opts: CaptionsClientOptions) {
    this.core = new SocketCore(opts, {
      route: 'captions',
      resumeParams: () => ({}),
      onFrame: (f) => this.onFrame(f),
      onState: (s) => this.events.emit('state', s),
      onClosed: (c) => this.events.emit('closed', c),
    });
  }

  on<K extends keyof CaptionsEvents>(event: K, listener: (payload: CaptionsEvents[K]) => void): () => void {
    return this.events.on(event, listener);
  }
  once<K extends keyof CaptionsEvents>(event: K, listener: (payload: CaptionsEvents[K]) => void): () => void {
    return this.events.once(event, listener);
  }
  off<K extends keyof CaptionsEvents>(event: K, listener: (payload: CaptionsEvents[K]) => void): void {
    this.events.off(event, listener);
  }

  get state(): ConnectionState {
    return this.core.state;
  }

  connect(): Promise<void> {
    return this.core.connect();
  }

  close(): void {
    this.core.close();
  }

  /**
   * Publishes a cue (scope `publish_captions`); resolves with its `seq` once stored. Like chat's send,
   * a cue whose socket dropped before the ack is rejected with `disconnected`, not resent.
   */
  async sendCue(cue: CueInput): Promise<{ seq: number }> {
    const ack = await this.core.request({ type: 'cue', start_ms: cue.start_ms, end_ms: cue.end_ms, text: cue.text, lang: cue.lang });
    return { seq: Number(ack.seq) };
  }

  private onFrame(f: ServerFrame): void {
    if (f.type === 'joined') {
      const cues = Array.isArray(f.cues) ? (f.cues as Cue[]) : [];
      const resumed = this.everJoined;
      this.everJoined = true;
      this.core.joined();
      this.events.emit('joined', { type: 'joined', seq: Number(f.seq) || 0, cues, resumed });
      for (const c of [...cues].sort((a, b) => a.seq - b.seq)) this.deliver(c);
      // Cues after the join are above joined.seq; those at or below it came in `cues` or are too old to show.
      this.lastSeq = Math.max(this.lastSeq, Number(f.seq) || 0);
    } else if (f.type === 'cue') {
      this.deliver(f as unknown as Cue);
    } else if (f.type === 'error') {
      this.events.emit('error', new StreamplaneError(String(f.code), String(f.detail ?? f.code), typeof f.retry_after_ms === 'number' ? f.retry_after_ms : undefined));
    }
  }

  private deliver(c: Cue): void {
    if (!(c.seq > this.lastSeq)) return;
    this.lastSeq = c.seq;
    this.events.emit('cue', c);
  }
}
