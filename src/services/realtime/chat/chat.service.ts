import { randomBytes } from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import { AppError, DependencyUnavailableError } from '../../../core/errors.js';
import type { ChatEvent } from '../../../core/events.js';
import { newId } from '../../../core/ids.js';
import type { Bus, Clock, Database, Presence, RateLimitStore } from '../../../core/ports/index.js';
import type { RealtimeConfig } from '../../../config/config.js';
import { hasScope, type ViewerClaims } from '../../../http/viewer-auth/viewer-token.verifier.js';
import { CLOSE } from '../hub/close-codes.js';
import type { Hub } from '../hub/hub.js';
import { OrderedRelay } from '../relay/ordered-relay.js';
import { Blocklist } from './blocklist.js';
import { chatRepository as repo, type ChatEventRow, type Restriction } from './chat.repository.js';
import { ChatPresence } from './chat.presence.js';
import { MessageBatcher } from './message.batcher.js';
import type { ReviewClient } from './review.client.js';

/** A request the chat refuses, with the protocol's error code (docs/protocol.md). */
export class ChatRefusal extends AppError {
  constructor(code: string, detail: string, retryAfterMs?: number) {
    super(STATUS[code] ?? 400, code, detail, retryAfterMs === undefined ? undefined : { retry_after_ms: retryAfterMs });
  }
}
const STATUS: Record<string, number> = {
  forbidden: 403, banned: 403, timed_out: 403, not_found: 404, rate_limited: 429, slow_mode: 429,
  too_long: 400, blocked: 400, rejected: 400,
};

/** Who acted: a moderator's socket (`viewer:<id>`) or an operator key (`operator:<key id>`). */
export type Actor = string;
export type Moderation =
  | { action: 'delete'; message_id: string }
  | { action: 'timeout'; user_id: string; seconds: number; reason?: string }
  | { action: 'ban'; user_id: string; shadow?: boolean; reason?: string }
  | { action: 'unban'; user_id: string }
  | { action: 'settings'; slow_mode_seconds?: number; blocked_terms?: string[] };

interface RoomMirror {
  slowModeSeconds: number;
  terms: string[];
  blocklist: Blocklist;
  bans: Set<string>;
}

type Delivered = { offset: number } & ({ kind: 'message'; id: string; user_id: string; text: string; ts: string; shadow: boolean } | { kind: 'deleted'; id: string });

export const chatRoom = (sessionId: string) => `chat:${sessionId}`;
const sessionOf = (room: string) => room.slice('chat:'.length);

export interface ChatServiceDeps {
  db: Database;
  bus: Bus;
  clock: Clock;
  rateLimits: RateLimitStore;
  presence: Presence;
  /** How often this instance refreshes its users' presence in each room and tells its sockets the count. */
  presenceMs: number;
  hub: Hub;
  log: FastifyBaseLogger;
  cfg: RealtimeConfig['chat'];
  review: ReviewClient | null;
  /** How long the relay waits for a missing offset before reading it from the database. */
  gapMs: number;
  messages?: { inc(labels: { outcome: string }): void };
}

/**
 * Chat rooms: storing messages (durably, before the ack), moderation, and delivery of what the Bus
 * brings to this instance's sockets in offset order. Per-room settings and bans are mirrored in memory
 * for rooms with sockets here, refreshed from the database in case the Bus lost an event.
 */
export class ChatService {
  readonly relay: OrderedRelay<Delivered>;
  readonly presence: ChatPresence;
  private readonly rooms = new Map<string, RoomMirror>();
  private readonly globalBlocklist: Blocklist;
  private readonly batcher: MessageBatcher;

  constructor(private readonly d: ChatServiceDeps) {
    this.globalBlocklist = new Blocklist(d.cfg.blockedTerms);
    this.batcher = new MessageBatcher(d.db, d.clock);
    this.presence = new ChatPresence(d.presence, d.hub, d.presenceMs);
    this.relay = new OrderedRelay<Delivered>(d.clock, {
      gapMs: d.gapMs,
      log: d.log,
      fetchRange: async (room, from, to) => (await repo.range(d.db, sessionOf(room), from, to)).map(toDelivered),
      deliver: (room, e) => this.deliverLocal(room, e),
    });
  }

  // ---- rooms and sockets -------------------------------------------------------------------------

  /**
   * Checks, before the upgrade, that the session's room may be joined by this user: from the room's
   * mirror when this instance has sockets in it (bans arrive by the Bus and are re-read every few
   * seconds), otherwise with one query.
   */
  async admit(sessionId: string, userId: string): Promise<void> {
    const mirror = this.rooms.get(sessionId);
    if (mirror) {
      if (mirror.bans.has(userId)) throw new AppError(403, 'banned', 'You are banned from this chat.');
      return;
    }
    const a = await repo.admission(this.d.db, sessionId, userId);
    if (!a) throw new AppError(404, 'not_found', `Session ${sessionId} does not exist.`);
    if (a.status === 'ended') throw new AppError(409, 'session_ended', `Session ${sessionId} has ended; its history stays readable over HTTP.`);
    if (a.banned) throw new AppError(403, 'banned', 'You are banned from this chat.');
  }

  /**
   * Builds the `joined` frame of a socket already registered with the hub (so nothing stored from now
   * on can be missed): the room's latest offset, then history or the replay of what was missed.
   */
  async joinFrame(sessionId: string, claims: ViewerClaims, resume: { since: number; epoch: string } | null) {
    const first = !this.rooms.has(sessionId);
    if (first) await repo.ensureRoom(this.d.db, sessionId, newEpoch(), new Date(this.d.clock.now()));
    const room = await repo.join(this.d.db, {
      sessionId, userId: claims.sub, limit: this.d.cfg.historySize, since: resume?.since ?? null, epoch: resume?.epoch ?? null, resumeMax: this.d.cfg.resumeMax,
    });
    if (!room) throw new AppError(404, 'not_found', `Session ${sessionId} does not exist.`);
    if (first && !this.rooms.has(sessionId)) this.rooms.set(sessionId, this.mirror(room.slow_mode_seconds, room.blocked_terms, await repo.bannedUsers(this.d.db, sessionId)));
    return {
      last: room.last_offset,
      frame: {
        type: 'joined',
        epoch: room.epoch,
        offset: room.last_offset,
        recovered: room.recovered,
        history: room.events.map((r) => frameOf(toDelivered(r))),
        user_id: claims.sub,
        scopes: claims.scope.split(' '),
        slow_mode_seconds: room.slow_mode_seconds,
      },
    };
  }

  /** The socket's room has no sockets left here. */
  roomEmptied(sessionId: string) {
    this.rooms.delete(sessionId);
    this.presence.forget(sessionId);
    this.relay.forget(chatRoom(sessionId));
  }


  // ---- sending -----------------------------------------------------------------------------------

  /**
   * Checks a message, then queues it for storage in send order and returns at once with `stored`, the
   * promise of its offset: the socket can check its next frame while this one is written, so one
   * sender's messages share a statement (group commit) and still keep their order.
   */
  async send(claims: ViewerClaims, text: string): Promise<{ stored: Promise<{ id: string; offset: number }> }> {
    const counted = <T>(p: Promise<T>) =>
      p.then(
        (v) => (this.d.messages?.inc({ outcome: 'stored' }), v),
        (err: unknown) => {
          this.d.messages?.inc({ outcome: err instanceof AppError ? err.code : err instanceof DependencyUnavailableError ? 'unavailable' : 'error' });
          throw err;
        },
      );
    try {
      const { id, text: final } = await this.check(claims, text);
      const { sid, sub } = claims;
      const stored = this.batcher.store(sid, { userId: sub, id, text: final }).then(async (s) => {
        if (!s) throw await this.whyRefused(sid, sub);
        await this.publish({ kind: 'message', session_id: sid, offset: s.offset, id, user_id: sub, text: final, ts: s.ts.toISOString(), shadow: s.shadow });
        return { id, offset: s.offset };
      });
      return { stored: counted(stored) };
    } catch (err) {
      return { stored: counted(Promise.reject(err)) };
    }
  }

  /** Scope, length, rates, slow mode, blocklist and review: a message's id and final text, or a refusal. */
  private async check(claims: ViewerClaims, text: string): Promise<{ id: string; text: string }> {
    const { sid, sub } = claims;
    if (!hasScope(claims, 'chat')) throw new ChatRefusal('forbidden', 'Sending needs the chat scope.');
    this.checkLength(text);
    const room = this.rooms.get(sid);
    await this.limit(`chat:user:${sid}:${sub}`, this.d.cfg.userRateLimit, this.d.cfg.userRateWindowMs, 'rate_limited', 'You are sending too fast.');
    await this.limit(`chat:room:${sid}`, this.d.cfg.roomRateLimit, this.d.cfg.roomRateWindowMs, 'rate_limited', 'This room is receiving too many messages.');
    if (room && room.slowModeSeconds > 0 && !hasScope(claims, 'moderate')) {
      await this.limit(`chat:slow:${sid}:${sub}`, 1, room.slowModeSeconds * 1000, 'slow_mode', `Slow mode: one message every ${room.slowModeSeconds} s.`);
    }
    const blocked = this.globalBlocklist.match(text) ?? room?.blocklist.match(text);
    if (blocked) throw new ChatRefusal('blocked', 'The message contains a blocked term.');
    const id = newId('msg', this.d.clock.now());
    if (!this.d.review) return { id, text };
    const verdict = await this.d.review.review({ session_id: sid, user_id: sub, message_id: id, text });
    if (!verdict.allow) throw new ChatRefusal('rejected', `The message was refused: ${verdict.reason}.`);
    this.checkLength(verdict.text);
    return { id, text: verdict.text };
  }

  private checkLength(text: string) {
    if (text.trim().length === 0) throw new ChatRefusal('too_long', 'The message is empty.');
    // Characters are code points: an emoji counts once, as a reader sees it.
    if (text.length > this.d.cfg.messageMaxChars && [...text].length > this.d.cfg.messageMaxChars) {
      throw new ChatRefusal('too_long', `Messages are at most ${this.d.cfg.messageMaxChars} characters.`);
    }
  }

  /** Fixed-window limit through the shared RateLimitStore; a store outage lets messages through. */
  private async limit(key: string, max: number, windowMs: number, code: string, detail: string) {
    const hit = await this.d.rateLimits.hit(key, windowMs).catch((err: unknown) => {
      this.d.log.warn({ err }, 'chat rate limit unavailable: allowing');
      return null;
    });
    if (hit && hit.count > max) throw new ChatRefusal(code, detail, hit.resetInMs);
  }

  private async whyRefused(sessionId: string, userId: string): Promise<ChatRefusal> {
    const now = this.d.clock.now();
    const rs = await repo.restrictionsOf(this.d.db, sessionId, userId, new Date(now));
    if (rs.some((r) => r.kind === 'ban')) {
      this.d.hub.closeWhere(chatRoom(sessionId), (c) => c.userId === userId, CLOSE.banned, 'banned');
      return new ChatRefusal('banned', 'You are banned from this chat.');
    }
    const timeout = rs.find((r) => r.kind === 'timeout');
    if (timeout?.until) return new ChatRefusal('timed_out', 'A moderator timed you out.', timeout.until.getTime() - now);
    return new ChatRefusal('not_found', `The chat of session ${sessionId} does not exist.`);
  }

  // ---- moderation --------------------------------------------------------------------------------

  async moderate(actor: Actor, sessionId: string, m: Moderation): Promise<void> {
    const now = this.d.clock.now();
    const at = new Date(now);
    let target: { user: string | null; message: string | null } = { user: null, message: null };
    let detail: Record<string, unknown> = {};
    switch (m.action) {
      case 'delete': {
        const res = await repo.delete(this.d.db, sessionId, m.message_id, at);
        if (res === null) throw new ChatRefusal('not_found', `Message ${m.message_id} is not in this chat.`);
        if (res === 'gone') return;
        target = { user: res.user_id, message: m.message_id };
        await this.publish({ kind: 'deleted', session_id: sessionId, offset: res.offset, id: m.message_id });
        break;
      }
      case 'timeout':
      case 'ban': {
        const kind: Restriction = m.action === 'timeout' ? 'timeout' : m.shadow ? 'shadow_ban' : 'ban';
        const until = m.action === 'timeout' ? new Date(now + m.seconds * 1000) : null;
        await this.requireRoom(sessionId);
        await repo.restrict(this.d.db, { sessionId, userId: m.user_id, kind, until, reason: m.reason ?? null, actor, now: at });
        target = { user: m.user_id, message: null };
        detail = { kind, ...(until ? { until: until.toISOString(), seconds: (m as { seconds: number }).seconds } : {}), ...(m.reason ? { reason: m.reason } : {}) };
        await this.publish({ kind: 'restricted', session_id: sessionId, user_id: m.user_id, restriction: kind, until: until?.toISOString() ?? null });
        break;
      }
      case 'unban': {
        await repo.lift(this.d.db, sessionId, m.user_id);
        target = { user: m.user_id, message: null };
        await this.publish({ kind: 'restricted', session_id: sessionId, user_id: m.user_id, restriction: 'lifted', until: null });
        break;
      }
      case 'settings': {
        await this.requireRoom(sessionId);
        const room = await repo.updateSettings(this.d.db, sessionId, m);
        if (!room) throw new ChatRefusal('not_found', `Session ${sessionId} does not exist.`);
        detail = { ...m };
        delete detail.action;
        await this.publish({ kind: 'settings', session_id: sessionId, slow_mode_seconds: room.slow_mode_seconds, blocked_terms: room.blocked_terms });
        break;
      }
    }
    const action = m.action === 'settings' ? 'settings' : m.action === 'ban' && m.shadow ? 'shadow_ban' : m.action;
    await repo.logModeration(this.d.db, { id: newId('mod', now), session_id: sessionId, action, actor, target_user_id: target.user, target_message_id: target.message, detail, created_at: at });
    await this.d.bus
      .publish('chat.moderation', { session_id: sessionId, action, actor, target_user_id: target.user, target_message_id: target.message, at: at.toISOString() })
      .catch((err: unknown) => this.d.log.warn({ err }, 'moderation event not published'));
  }

  async settings(sessionId: string) {
    const room = await this.requireRoom(sessionId);
    return { slow_mode_seconds: room.slow_mode_seconds, blocked_terms: room.blocked_terms };
  }

  private async requireRoom(sessionId: string) {
    const room = await repo.room(this.d.db, sessionId, newEpoch(), new Date(this.d.clock.now()));
    if (!room) throw new ChatRefusal('not_found', `Session ${sessionId} does not exist.`);
    return room;
  }

  // ---- delivery ----------------------------------------------------------------------------------

  /** Publishes to every instance; when the Bus is down, this instance's sockets still get it. */
  private async publish(e: ChatEvent) {
    await this.d.bus.publish('chat.event', e).catch((err: unknown) => {
      this.d.log.warn({ err, session_id: e.session_id }, 'chat event not published: delivered on this instance only (others recover it)');
      this.onEvent(e);
    });
  }

  /** A chat event from the Bus (any instance, this one included). */
  onEvent(e: ChatEvent) {
    const room = chatRoom(e.session_id);
    switch (e.kind) {
      case 'message':
        if (this.d.hub.has(room)) this.relay.receive(room, { kind: 'message', offset: e.offset, id: e.id, user_id: e.user_id, text: e.text, ts: e.ts, shadow: e.shadow });
        return;
      case 'deleted':
        if (this.d.hub.has(room)) this.relay.receive(room, { kind: 'deleted', offset: e.offset, id: e.id });
        return;
      case 'restricted': {
        const mirror = this.rooms.get(e.session_id);
        if (e.restriction === 'ban') {
          mirror?.bans.add(e.user_id);
          this.d.hub.closeWhere(room, (c) => c.userId === e.user_id, CLOSE.banned, 'banned');
        } else if (e.restriction === 'lifted') {
          mirror?.bans.delete(e.user_id);
        }
        return;
      }
      case 'settings': {
        const mirror = this.rooms.get(e.session_id);
        if (!mirror) return;
        const changed = mirror.slowModeSeconds !== e.slow_mode_seconds;
        this.rooms.set(e.session_id, this.mirror(e.slow_mode_seconds, e.blocked_terms, mirror.bans, mirror));
        if (changed) this.d.hub.broadcast(room, JSON.stringify({ type: 'slow_mode', seconds: e.slow_mode_seconds }));
        return;
      }
    }
  }

  /** Re-reads settings and bans of the rooms with sockets here, repairing events the Bus lost. */
  async refreshMirrors() {
    for (const [sessionId, old] of [...this.rooms]) {
      const room = await repo.mirrorState(this.d.db, sessionId);
      if (!room || !this.rooms.has(sessionId)) continue;
      const bans = new Set(room.bans);
      this.rooms.set(sessionId, this.mirror(room.slow_mode_seconds, room.blocked_terms, bans, old));
      if (old.slowModeSeconds !== room.slow_mode_seconds) this.d.hub.broadcast(chatRoom(sessionId), JSON.stringify({ type: 'slow_mode', seconds: room.slow_mode_seconds }));
      this.d.hub.closeWhere(chatRoom(sessionId), (c) => bans.has(c.userId), CLOSE.banned, 'banned');
    }
  }

  private deliverLocal(room: string, e: Delivered) {
    const data = JSON.stringify(frameOf(e));
    this.d.hub.deliver(room, e.offset, data, e.kind === 'message' && e.shadow ? e.user_id : null);
  }

  /** A room's mirror; the previous one's compiled blocklist is kept when the terms did not change. */
  private mirror(slowModeSeconds: number, terms: string[], bans: Iterable<string>, previous?: RoomMirror): RoomMirror {
    const same = previous && previous.terms.length === terms.length && previous.terms.every((t, i) => t === terms[i]);
    return { slowModeSeconds, terms, blocklist: same ? previous.blocklist : new Blocklist(terms), bans: new Set(bans) };
  }
}

const newEpoch = () => randomBytes(9).toString('base64url');


function toDelivered(r: ChatEventRow): Delivered {
  return r.kind === 'deleted'
    ? { kind: 'deleted', offset: r.offset, id: r.id }
    : { kind: 'message', offset: r.offset, id: r.id, user_id: r.user_id!, text: r.text!, ts: r.ts.toISOString(), shadow: r.shadow };
}

function frameOf(e: Delivered) {
  return e.kind === 'deleted'
    ? { type: 'deleted', id: e.id, offset: e.offset }
    : { type: 'message', id: e.id, offset: e.offset, user_id: e.user_id, text: e.text, ts: e.ts };
}
