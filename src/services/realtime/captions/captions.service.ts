import type { FastifyBaseLogger } from 'fastify';
import { AppError } from '../../../core/errors.js';
import type { EventPayload } from '../../../core/events.js';
import type { Bus, Clock, Database } from '../../../core/ports/index.js';
import type { RealtimeConfig } from '../../../config/config.js';
import { hasScope, type ViewerClaims } from '../../../http/viewer-auth/viewer-token.verifier.js';
import { UNSAFE_TEXT } from '../hub/frames.js';
import type { Hub } from '../hub/hub.js';
import { OrderedRelay } from '../relay/ordered-relay.js';
import { captionsRepository as repo, type CueRow } from './captions.repository.js';
import { renderVtt } from './captions.vtt.js';

/** A request the captions refuse, with the protocol's error code (docs/protocol.md). */
export class CaptionRefusal extends AppError {
  constructor(code: 'bad_frame' | 'forbidden' | 'too_long', detail: string) {
    super(STATUS[code], code, detail);
  }
}
const STATUS = { bad_frame: 400, forbidden: 403, too_long: 400 } as const;

export type CueEvent = EventPayload<'captions.cue'>;
type Delivered = { offset: number; start_ms: number; end_ms: number; text: string; lang: string; ts: string };

export const captionsRoom = (sessionId: string) => `captions:${sessionId}`;
const sessionOf = (room: string) => room.slice('captions:'.length);

export interface CaptionsServiceDeps {
  db: Database;
  bus: Bus;
  clock: Clock;
  hub: Hub;
  log: FastifyBaseLogger;
  cfg: RealtimeConfig['captions'];
  /** How long the relay waits for a missing seq before reading it from the database. */
  gapMs: number;
}

/**
 * Caption cues of a session: storing them (before the ack), delivering what the Bus brings to this
 * instance's caption sockets in seq order, and the session's cues as a WebVTT file.
 */
export class CaptionsService {
  readonly relay: OrderedRelay<Delivered>;

  constructor(private readonly d: CaptionsServiceDeps) {
    this.relay = new OrderedRelay<Delivered>(d.clock, {
      gapMs: d.gapMs,
      log: d.log,
      fetchRange: async (room, from, to) => (await repo.range(d.db, sessionOf(room), from, to)).map(toDelivered),
      deliver: (room, e) => this.d.hub.deliver(room, e.offset, JSON.stringify(frameOf(e))),
    });
  }

  // ---- sockets -----------------------------------------------------------------------------------

  /** Checks, before the upgrade, that the session exists and has not ended. */
  async admit(sessionId: string): Promise<void> {
    const room = await repo.room(this.d.db, sessionId, new Date(this.d.clock.now()));
    if (!room) throw new AppError(404, 'not_found', `Session ${sessionId} does not exist.`);
    if (room.status === 'ended') throw new AppError(409, 'session_ended', `Session ${sessionId} has ended; its captions stay readable over HTTP (captions.vtt).`);
  }

  /**
   * The `joined` frame of a socket already registered with the hub (so no cue stored from now on can
   * be missed): the room's latest seq and the latest cues up to it.
   */
  async joinFrame(sessionId: string) {
    const room = await repo.room(this.d.db, sessionId, new Date(this.d.clock.now()));
    if (!room) throw new AppError(404, 'not_found', `Session ${sessionId} does not exist.`);
    const last = room.last_seq;
    const cues = await repo.recent(this.d.db, sessionId, last, this.d.cfg.recentCues);
    return { last, frame: { type: 'joined', seq: last, cues: cues.map((r) => frameOf(toDelivered(r))) } };
  }

  /** The socket's room has no sockets left here. */
  roomEmptied(sessionId: string) {
    this.relay.forget(captionsRoom(sessionId));
  }

  // ---- publishing --------------------------------------------------------------------------------

  /** Validates and stores a cue, then publishes it to every instance. Resolves with its seq once stored. */
  async publish(claims: ViewerClaims, cue: { start_ms: number; end_ms: number; text: string; lang: string }): Promise<number> {
    if (!hasScope(claims, 'publish_captions')) throw new CaptionRefusal('forbidden', 'Sending cues needs the publish_captions scope.');
    if (cue.end_ms <= cue.start_ms) throw new CaptionRefusal('bad_frame', '/end_ms: must be greater than start_ms.');
    if (UNSAFE_TEXT.test(cue.text)) throw new CaptionRefusal('bad_frame', '/text: control characters and unpaired surrogates are not allowed.');
    if (cue.text.trim().length === 0) throw new CaptionRefusal('too_long', 'The cue text is empty.');
    // Characters are code points: an emoji counts once, as a reader sees it.
    const max = this.d.cfg.cueMaxChars;
    if (cue.text.length > max && [...cue.text].length > max) throw new CaptionRefusal('too_long', `Cue text is at most ${max} characters.`);

    const now = this.d.clock.now();
    const seq = await repo.store(this.d.db, { sessionId: claims.sid, userId: claims.sub, startMs: cue.start_ms, endMs: cue.end_ms, text: cue.text, lang: cue.lang, now: new Date(now) });
    // The room row is created by the admission of this very socket and never deleted.
    if (seq === null) throw new Error(`caption room of session ${claims.sid} is missing`);
    const e: CueEvent = { session_id: claims.sid, seq, start_ms: cue.start_ms, end_ms: cue.end_ms, text: cue.text, lang: cue.lang, ts: new Date(now).toISOString() };
    await this.d.bus.publish('captions.cue', e).catch((err: unknown) => {
      // The cue is stored: other instances' viewers get it from their next join (recent cues) or gap fill.
      this.d.log.warn({ err, session_id: e.session_id }, 'caption cue not published: delivered on this instance only');
      this.onEvent(e);
    });
    return seq;
  }

  // ---- delivery ----------------------------------------------------------------------------------

  /** A cue from the Bus (any instance, this one included). */
  onEvent(e: CueEvent) {
    const room = captionsRoom(e.session_id);
    if (!this.d.hub.has(room)) return;
    this.relay.receive(room, { offset: e.seq, start_ms: e.start_ms, end_ms: e.end_ms, text: e.text, lang: e.lang, ts: e.ts });
  }

  // ---- WebVTT ------------------------------------------------------------------------------------

  /** The session's cues as a WebVTT file, or null when there is no such session. */
  async vtt(sessionId: string, lang: string | null): Promise<string | null> {
    const [exists, cues] = await Promise.all([repo.sessionExists(this.d.db, sessionId), repo.forVtt(this.d.db, sessionId, lang)]);
    return exists ? renderVtt(cues) : null;
  }
}


function toDelivered(r: CueRow): Delivered {
  return { offset: r.seq, start_ms: r.start_ms, end_ms: r.end_ms, text: r.text, lang: r.lang, ts: r.ts.toISOString() };
}

function frameOf(e: Delivered) {
  return { type: 'cue', seq: e.offset, start_ms: e.start_ms, end_ms: e.end_ms, text: e.text, lang: e.lang, ts: e.ts };
}
