import { decodeCursor, encodeCursor } from '../../../http/pagination.js';
import { AppError, notFound } from '../../../core/errors.js';
import { newId } from '../../../core/ids.js';
import type { FastifyBaseLogger } from 'fastify';
import type { EventName, EventPayload } from '../../../core/events.js';
import type { Bus, Clock, Database, Presence } from '../../../core/ports/index.js';
import { withIdempotency } from '../idempotency.repository.js';
import type { SessionMetrics } from '../session.metrics.js';
import { sessionRepository as repo, type SessionRow } from './session.repository.js';
import type { ListSessionsQuery, Session, StartSessionBody } from './session.schemas.js';
import { assertTransition, type SessionTransition } from './session.state.js';

export const viewerSet = (sessionId: string) => `viewers:${sessionId}`;

export interface SessionServiceDeps {
  db: Database;
  bus: Bus;
  presence: Presence;
  clock: Clock;
  metrics: SessionMetrics;
  metadataMaxBytes: number;
  log: FastifyBaseLogger;
}

export class SessionService {
  constructor(private readonly d: SessionServiceDeps) {}

  async start(body: StartSessionBody, operatorKeyId: string, idempotencyKey: string | undefined) {
    const metadata = body.metadata ?? {};
    if (jsonDepth(metadata) > METADATA_MAX_DEPTH) {
      throw new AppError(400, 'metadata_too_deep', `metadata nests deeper than ${METADATA_MAX_DEPTH} levels.`, { errors: [{ field: 'body.metadata', message: 'is nested too deeply' }] });
    }
    const size = Buffer.byteLength(JSON.stringify(metadata));
    if (size > this.d.metadataMaxBytes) {
      throw new AppError(413, 'metadata_too_large', `metadata is ${size} bytes encoded; the limit is ${this.d.metadataMaxBytes} (STREAMPLANE_METADATA_MAX_BYTES).`);
    }
    const now = new Date(this.d.clock.now());
    const result = await withIdempotency(this.d.db, { scope: `${operatorKeyId}:sessions.start`, key: idempotencyKey, body, now }, async (tx) => {
      const row = await repo.insert(tx, {
        id: newId('ses', now.getTime()),
        title: body.title ?? null,
        max_viewers: body.max_viewers ?? null,
        metadata,
        created_at: now,
        created_by: operatorKeyId,
      });
      return { status: 201, body: this.view(row, 0) };
    });
    if (!result.replayed) {
      this.d.metrics.sessionsCreated.inc();
      await this.publish('session.created', { session_id: result.body.id, at: now.toISOString() });
    }
    return result;
  }

  async get(id: string): Promise<Session> {
    const row = await repo.get(this.d.db, id);
    if (!row) throw notFound('Session', id);
    return this.view(row, row.status === 'ended' ? 0 : await this.d.presence.count(viewerSet(id)));
  }

  async list(q: ListSessionsQuery): Promise<{ data: Session[]; next_cursor: string | null }> {
    const beforeId = q.cursor ? decodeCursor(q.cursor, 'ses') : undefined;
    const rows = await repo.list(this.d.db, {
      status: q.status,
      createdAfter: queryDate('created_after', q.created_after),
      createdBefore: queryDate('created_before', q.created_before),
      beforeId,
      limit: q.limit + 1,
    });
    const page = rows.slice(0, q.limit);
    const data = await Promise.all(page.map(async (r) => this.view(r, r.status === 'ended' ? 0 : await this.d.presence.count(viewerSet(r.id)))));
    return { data, next_cursor: rows.length > q.limit ? encodeCursor(page[page.length - 1]!.id) : null };
  }

  /** Idempotent: stopping an ended session answers it as it is. */
  async stop(id: string, reason: string): Promise<Session> {
    const { row, changed } = await this.apply(id, 'end', reason, { idempotent: true });
    if (changed) {
      await this.publish('session.ended', { session_id: id, at: row.ended_at!.toISOString(), reason });
    }
    return this.view(row, 0);
  }

  /** Applies the `go_live` transition driven by ingest; a session already live is left as it is. */
  async goLive(id: string): Promise<SessionRow> {
    return (await this.apply(id, 'go_live', null, { idempotent: true })).row;
  }

  /**
   * Applies a transition with compare-and-set, retrying when another instance changed the row in
   * between. With `idempotent`, asking for the state the session is already in is not an error.
   */
  private async apply(id: string, t: SessionTransition, reason: string | null, opts: { idempotent: boolean }): Promise<{ row: SessionRow; changed: boolean }> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const row = await repo.get(this.d.db, id);
      if (!row) throw notFound('Session', id);
      const target = t === 'end' ? 'ended' : 'live';
      if (opts.idempotent && row.status === target) return { row, changed: false };
      const to = assertTransition(id, row.status, t);
      const updated = await repo.transition(this.d.db, id, row.status, to, new Date(this.d.clock.now()), reason);
      if (updated) return { row: updated, changed: true };
    }
    throw new AppError(409, 'concurrent_update', `Session ${id} changed repeatedly while being updated; retry.`);
  }

  view(r: SessionRow, current: number): Session {
    return {
      id: r.id,
      status: r.status,
      title: r.title,
      max_viewers: r.max_viewers,
      metadata: r.metadata,
      created_at: r.created_at.toISOString(),
      updated_at: r.updated_at.toISOString(),
      started_at: r.live_at?.toISOString() ?? null,
      ended_at: r.ended_at?.toISOString() ?? null,
      end_reason: r.end_reason,
      viewers: { current, peak: Math.max(r.peak_viewers, current), unique: r.unique_viewers },
    };
  }

  private async publish<N extends EventName>(topic: N, payload: EventPayload<N>) {
    // The row is committed: a lost notification is repaired by subscribers reading the database.
    await this.d.bus.publish(topic, payload).catch((err) => this.d.log.warn({ err, topic }, 'bus publish failed'));
  }
}

const METADATA_MAX_DEPTH = 32;

/** Depth of a JSON value, measured without recursion (a 64 KiB body can nest ~30,000 levels). */
export function jsonDepth(value: unknown): number {
  let max = 0;
  const stack: Array<[unknown, number]> = [[value, 1]];
  while (stack.length > 0) {
    const [v, d] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (d > max) max = d;
    if (max > METADATA_MAX_DEPTH) return max;
    for (const child of Object.values(v)) stack.push([child, d + 1]);
  }
  return max;
}

/** A `date-time` that JavaScript and PostgreSQL can both hold (the format allows leap seconds, Date does not). */
function queryDate(field: string, value: string | undefined): Date | undefined {
  if (value === undefined) return undefined;
  const d = new Date(value);
  if (!Number.isFinite(d.getTime()) || d.getUTCFullYear() < 1 || d.getUTCFullYear() > 9999) {
    throw new AppError(400, 'validation_failed', `querystring.${field} must be a date between years 1 and 9999`, { errors: [{ field: `querystring.${field}`, message: 'is not a usable date' }] });
  }
  return d;
}

