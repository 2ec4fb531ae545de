import type { BatchResult, RejectionReason } from './telemetry.schemas.js';
import { checkEvent, Rejection, type EventLimits, type ValidEvent } from './telemetry.validator.js';

/**
 * One request's batch, from parsed JSON to what the buffer takes and what the answer says, in two
 * passes around the session lookup. Written for the cost per event (bench/README.md, telemetry): each
 * event is checked once, and costs two hash lookups besides (its session's group in this batch, its
 * event_id in that group), where grouping, the session check and duplicate detection used to cost five.
 */

/** The events of one session in a batch. */
interface SessionGroup {
  /** Whether the session exists; set between the passes. */
  known: boolean;
  /** event_ids seen so far in this batch (ids are unique within a session, not across sessions). */
  ids: Set<string>;
}

/** Who sent the batch: a viewer token's session and viewer, or nothing for an operator key. */
export interface Sender {
  sid: string;
  sub: string;
}

export interface CheckedBatch {
  /** Per event, in order: the event, or why it is rejected. */
  checked: Array<ValidEvent | Rejection>;
  /** Per event: its session's group (unused for rejected events). */
  groups: Array<SessionGroup | undefined>;
  /** The sessions that valid events name. */
  sessions: Map<string, SessionGroup>;
}

const FORBIDDEN_SESSION = new Rejection('forbidden_session', 'session_id is not the session of the viewer token');
const FORBIDDEN_VIEWER = new Rejection('forbidden_viewer', 'viewer_id is not the viewer of the viewer token');

/** First pass: every event checked on its own, valid ones grouped by session. */
export function checkBatch(raw: unknown[], now: number, limits: EventLimits, viewer: Sender | undefined): CheckedBatch {
  const n = raw.length;
  const checked = new Array<ValidEvent | Rejection>(n);
  const groups = new Array<SessionGroup | undefined>(n);
  const sessions = new Map<string, SessionGroup>();
  for (let i = 0; i < n; i++) {
    let c = checkEvent(raw[i], now, limits);
    if (!(c instanceof Rejection) && viewer) {
      if (c.sessionId !== viewer.sid) c = FORBIDDEN_SESSION;
      else if (c.viewerId !== viewer.sub) c = FORBIDDEN_VIEWER;
    }
    checked[i] = c;
    if (c instanceof Rejection) continue;
    let g = sessions.get(c.sessionId);
    if (!g) sessions.set(c.sessionId, (g = { known: false, ids: new Set() }));
    groups[i] = g;
  }
  return { checked, groups, sessions };
}

/**
 * Second pass, once `known` says which sessions exist: the answer, and the events for the buffer (an
 * event_id repeated within the batch is accepted but buffered once). `count` gets each rejection.
 */
export function settleBatch(batch: CheckedBatch, known: ReadonlySet<string>, count: (reason: RejectionReason) => void): { result: BatchResult; accepted: ValidEvent[] } {
  for (const [id, g] of batch.sessions) g.known = known.has(id);
  const result: BatchResult = { accepted: 0, rejected: 0, duplicates: 0, errors: [] };
  const accepted: ValidEvent[] = [];
  const { checked, groups } = batch;
  for (let i = 0; i < checked.length; i++) {
    const c = checked[i]!;
    if (c instanceof Rejection) {
      result.errors.push({ index: i, reason: c.reason, detail: c.detail });
      count(c.reason);
      continue;
    }
    const g = groups[i]!;
    if (!g.known) {
      result.errors.push({ index: i, reason: 'unknown_session', detail: `session ${c.sessionId} does not exist` });
      count('unknown_session');
      continue;
    }
    result.accepted++;
    // One lookup: the set grows unless the id was already in it.
    const before = g.ids.size;
    g.ids.add(c.eventId);
    if (g.ids.size === before) result.duplicates++;
    else accepted.push(c);
  }
  result.rejected = result.errors.length;
  return { result, accepted };
}
