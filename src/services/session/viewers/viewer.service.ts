import type { FastifyBaseLogger } from 'fastify';
import { LRUCache } from 'lru-cache';
import { AppError, conflict, forbidden, notFound } from '../../../core/errors.js';
import type { Clock, Database, Presence } from '../../../core/ports/index.js';
import { sessionRepository } from '../sessions/session.repository.js';
import { viewerSet } from '../sessions/session.service.js';
import type { RevocationRegistry } from '../../../http/viewer-auth/revocation.registry.js';
import { hasScope, type ViewerClaims } from '../../../http/viewer-auth/viewer-token.verifier.js';

/** How long a session's cap is remembered; the cap cannot change after creation, ending is tracked by the registry. */
const SESSION_CACHE_TTL_MS = 60_000;

/**
 * Concurrent viewers from player heartbeats: Presence counts each viewer id once while its heartbeat
 * is fresh, on every instance alike. The first sighting of a viewer is recorded for unique counts, and
 * the peak is raised in the database only when this instance sees a new high.
 */
export class ViewerService {
  private readonly sessions = new LRUCache<string, { maxViewers: number | null }>({ max: 10_000, ttl: SESSION_CACHE_TTL_MS });
  private readonly peaks = new LRUCache<string, number>({ max: 10_000 });

  constructor(
    private readonly d: { db: Database; presence: Presence; clock: Clock; revocations: RevocationRegistry; log: FastifyBaseLogger; ttlMs: number },
  ) {}

  async heartbeat(sessionId: string, claims: ViewerClaims) {
    if (claims.sid !== sessionId) throw forbidden('wrong_session', 'This token belongs to another session.');
    if (!hasScope(claims, 'view')) throw forbidden('missing_scope', "This token lacks the 'view' scope.");
    const session = await this.session(sessionId);
    const set = viewerSet(sessionId);
    const r = await this.d.presence.touch(set, claims.sub, this.d.ttlMs, session.maxViewers ? { limit: session.maxViewers } : undefined);
    if (!r.admitted) {
      throw new AppError(403, 'max_viewers_reached', `Session ${sessionId} is at its cap of ${session.maxViewers} concurrent viewers; try again later.`);
    }
    if (r.joined) await sessionRepository.addViewer(this.d.db, sessionId, claims.sub, new Date(this.d.clock.now()));
    if (r.count > (this.peaks.get(sessionId) ?? 0)) {
      this.peaks.set(sessionId, r.count);
      await sessionRepository.raisePeak(this.d.db, sessionId, r.count);
    }
    return { session_id: sessionId, viewer_id: claims.sub, viewers: { current: r.count }, heartbeat_ttl_ms: this.d.ttlMs };
  }

  async leave(sessionId: string, claims: ViewerClaims) {
    if (claims.sid !== sessionId) throw forbidden('wrong_session', 'This token belongs to another session.');
    await this.d.presence.leave(viewerSet(sessionId), claims.sub);
  }

  private async session(id: string) {
    if (this.d.revocations.isEnded(id)) throw conflict('session_ended', `Session ${id} has ended.`);
    const cached = this.sessions.get(id);
    if (cached) return cached;
    const row = await sessionRepository.get(this.d.db, id);
    if (!row) throw notFound('Session', id);
    if (row.status === 'ended') throw conflict('session_ended', `Session ${id} has ended.`);
    const entry = { maxViewers: row.max_viewers };
    this.sessions.set(id, entry);
    return entry;
  }
}
