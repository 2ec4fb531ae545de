import type { FastifyBaseLogger } from 'fastify';
import type { EventPayload } from '../../core/events.js';
import { idTimeMs } from '../../core/ids.js';
import type { Bus, Clock, Database, TimerHandle, Unsubscribe } from '../../core/ports/index.js';

export type RevocationKind = 'jti' | 'family' | 'viewer';
/** Overlap of successive database syncs, so rows committed late or stamped by a skewed clock are still seen. */
const SYNC_OVERLAP_MS = 10_000;

export interface TokenIdentity {
  jti: string;
  fid: string;
  sid: string;
  sub: string;
  iat: number;
}

/**
 * Every instance's in-memory mirror of unexpired revocations and ended sessions, so that validation
 * never waits on the database. The Bus brings a revocation within milliseconds; a sync from the
 * database every `syncMs` repairs an event the Bus lost (it is at-most-once).
 */
export class RevocationRegistry {
  private readonly jti = new Map<string, number>();
  private readonly family = new Map<string, number>();
  /**
   * `<session>:<viewer>` → revoked-at in ms. Tokens of a family created at or before it are revoked. The
   * family's creation time (in its id) is exact to the millisecond, where a token's `iat` is whole
   * seconds: comparing `iat` revoked a token minted in the same second as the revocation.
   */
  private readonly viewer = new Map<string, { at: number; expires: number }>();
  private readonly ended = new Map<string, number>();
  private lastSync = 0;
  private timer: TimerHandle | null = null;
  private unsubscribes: Unsubscribe[] = [];

  constructor(
    private readonly db: Database,
    private readonly bus: Bus,
    private readonly clock: Clock,
    private readonly log: FastifyBaseLogger,
    private readonly opts: { syncMs: number; maxTokenLifetimeSeconds: number },
  ) {}

  async start(): Promise<void> {
    await this.sync(true);
    this.unsubscribes.push(
      await this.bus.subscribe('token.revoked', (e) => this.applyEvent(e)),
      await this.bus.subscribe('session.ended', (e) => this.markEnded(e.session_id, Date.parse(e.at))),
    );
    this.timer = this.clock.setInterval(() => {
      this.sync(false).catch((err) => this.log.warn({ err }, 'revocation sync failed; validating from memory'));
    }, this.opts.syncMs);
  }

  async stop(): Promise<void> {
    this.timer?.cancel();
    await Promise.all(this.unsubscribes.map((u) => u().catch(() => {})));
  }

  /** 'revoked', 'session_ended', or null when the token may be used. */
  check(t: TokenIdentity): 'revoked' | 'session_ended' | null {
    if (this.ended.has(t.sid)) return 'session_ended';
    if (this.jti.has(t.jti) || this.family.has(t.fid)) return 'revoked';
    // Checked on every validation: no key string is built while no viewer is revoked (the usual case).
    if (this.viewer.size === 0) return null;
    const v = this.viewer.get(`${t.sid}:${t.sub}`);
    if (v && (idTimeMs(t.fid) ?? t.iat * 1000) <= v.at) return 'revoked';
    return null;
  }

  isEnded(sessionId: string) {
    return this.ended.has(sessionId);
  }

  /** Writes the revocation durably, applies it here, and tells the other instances. */
  async revoke(kind: RevocationKind, subject: string, ids: { session_id: string | null; viewer_id: string | null }): Promise<void> {
    const now = this.clock.now();
    await this.db.query('INSERT INTO revocations (kind, subject, revoked_at, expires_at) VALUES ($1, $2, $3, $4)', [
      kind, subject, new Date(now), new Date(now + this.lifetimeMs()),
    ]);
    const event = { kind, subject, ...ids, revoked_at: new Date(now).toISOString() };
    this.applyEvent(event);
    await this.bus.publish('token.revoked', event).catch((err) => this.log.warn({ err }, 'revocation published to the database only; other instances see it at their next sync'));
  }

  /** Marks a session ended here at once (its own event also arrives through the Bus). */
  markEnded(sessionId: string, endedAtMs: number) {
    this.ended.set(sessionId, endedAtMs + this.lifetimeMs());
  }

  private applyEvent(e: EventPayload<'token.revoked'>) {
    this.apply(e.kind, e.subject, Date.parse(e.revoked_at), Date.parse(e.revoked_at) + this.lifetimeMs());
  }

  private apply(kind: string, subject: string, revokedAt: number, expires: number) {
    if (kind === 'jti') this.jti.set(subject, expires);
    else if (kind === 'family') this.family.set(subject, expires);
    else if (kind === 'viewer') {
      const at = revokedAt;
      const prev = this.viewer.get(subject);
      if (!prev || prev.at < at) this.viewer.set(subject, { at, expires });
    }
  }

  private lifetimeMs() {
    return this.opts.maxTokenLifetimeSeconds * 1000;
  }

  private async sync(initial: boolean) {
    const started = this.clock.now();
    const since = new Date(initial ? 0 : this.lastSync - SYNC_OVERLAP_MS);
    const now = new Date(started);
    const revs = await this.db.query<{ kind: string; subject: string; revoked_at: Date; expires_at: Date }>(
      'SELECT kind, subject, revoked_at, expires_at FROM revocations WHERE revoked_at >= $1 AND expires_at > $2',
      [since, now],
    );
    for (const r of revs.rows) this.apply(r.kind, r.subject, r.revoked_at.getTime(), r.expires_at.getTime());
    const ended = await this.db.query<{ id: string; ended_at: Date }>(
      'SELECT id, ended_at FROM sessions WHERE ended_at >= $1 AND ended_at > $2',
      [since, new Date(started - this.lifetimeMs())],
    );
    for (const s of ended.rows) this.ended.set(s.id, s.ended_at.getTime() + this.lifetimeMs());
    this.lastSync = started;
    this.prune(started);
  }

  /** Entries outlive every token they could match by at most the token lifetime; then they go. */
  private prune(now: number) {
    for (const m of [this.jti, this.family, this.ended]) for (const [k, exp] of m) if (exp <= now) m.delete(k);
    for (const [k, v] of this.viewer) if (v.expires <= now) this.viewer.delete(k);
  }
}
