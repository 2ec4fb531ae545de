import type { BatchResult, RejectionReason } from './telemetry.schemas.js';
import { blankEvent, checkEvent, Rejection, type EventLimits, type ValidEvent } from './telemetry.validator.js';

/**
 * One request's batch, from parsed JSON to the answer and what the buffer takes, written for the cost
 * per event (bench/README.md, telemetry). In one pass, each event is checked into one reused object,
 * grouped by session (one hash lookup), deduplicated within the batch (one more), and looked up among
 * the views this instance wrote; only an event the buffer takes is copied. Events of a session that
 * the session cache does not know wait for the database, then go through the same steps.
 */

/** Who sent the batch: a viewer token's session and viewer, or nothing for an operator key. */
export interface Sender {
  sid: string;
  sub: string;
}

export interface Intake {
  now: number;
  limits: EventLimits;
  viewer: Sender | undefined;
  sessions: {
    /** Whether the session exists, when cached; undefined when the database must say. */
    cachedOne(id: string): boolean | undefined;
    existing(ids: Iterable<string>): Promise<Set<string>>;
  };
  buffer: {
    known(e: ValidEvent): boolean;
    insert(events: ValidEvent[]): void;
  };
  count(reason: RejectionReason): void;
}

/** The events of one session in a batch. */
interface SessionGroup {
  /** Whether the session exists; undefined until the database says. */
  known: boolean | undefined;
  /** event_ids seen so far in this batch (ids are unique within a session, not across sessions). */
  ids: Set<string>;
}

const FORBIDDEN_SESSION = new Rejection('forbidden_session', 'session_id is not the session of the viewer token');
const FORBIDDEN_VIEWER = new Rejection('forbidden_viewer', 'viewer_id is not the viewer of the viewer token');

/**
 * Whether an accepted event repeats an event_id of its session earlier in the batch; if not, it goes
 * to `take` (a copy of `e`, which the caller reuses) unless the buffer already wrote it.
 */
function repeated(g: SessionGroup, e: ValidEvent, buffer: Intake['buffer'], take: ValidEvent[], copy: boolean): boolean {
  // One lookup: the set grows unless the id was already in it.
  const before = g.ids.size;
  g.ids.add(e.eventId);
  if (g.ids.size === before) return true;
  if (!buffer.known(e)) take.push(copy ? { ...e } : e);
  return false;
}

/** Takes a batch's events: the 202 answer, now or once the database has said which sessions exist. */
export function takeBatch(raw: unknown[], ctx: Intake): BatchResult | Promise<BatchResult> {
  const errors: BatchResult['errors'] = [];
  const groups = new Map<string, SessionGroup>();
  const take: ValidEvent[] = [];
  let waiting: Array<{ index: number; event: ValidEvent; group: SessionGroup }> | null = null;
  // Counters in locals, the loop without closures: this loop runs for every event of every batch.
  let accepted = 0;
  let duplicates = 0;
  const { now, limits, viewer, buffer } = ctx;
  const e = blankEvent();
  for (let i = 0; i < raw.length; i++) {
    let r = checkEvent(raw[i], now, limits, e, groups);
    if (!r && viewer) {
      if (e.sessionId !== viewer.sid) r = FORBIDDEN_SESSION;
      else if (e.viewerId !== viewer.sub) r = FORBIDDEN_VIEWER;
    }
    if (r) {
      errors.push({ index: i, reason: r.reason, detail: r.detail });
      continue;
    }
    let g = groups.get(e.sessionId);
    if (!g) groups.set(e.sessionId, (g = { known: ctx.sessions.cachedOne(e.sessionId), ids: new Set() }));
    if (g.known === undefined) {
      (waiting ??= []).push({ index: i, event: { ...e }, group: g });
      continue;
    }
    if (!g.known) {
      errors.push({ index: i, reason: 'unknown_session', detail: `session ${e.sessionId} does not exist` });
      continue;
    }
    accepted++;
    if (repeated(g, e, buffer, take, true)) duplicates++;
  }

  const finish = (): BatchResult => {
    buffer.insert(take);
    for (const err of errors) ctx.count(err.reason);
    return { accepted, rejected: errors.length, duplicates, errors };
  };
  if (!waiting) return finish();
  const asked = waiting;
  const ids = [...groups].filter(([, g]) => g.known === undefined).map(([id]) => id);
  return ctx.sessions.existing(ids).then((found) => {
    for (const id of ids) groups.get(id)!.known = found.has(id);
    for (const { index, event, group } of asked) {
      if (!group.known) {
        errors.push({ index, reason: 'unknown_session', detail: `session ${event.sessionId} does not exist` });
        continue;
      }
      accepted++;
      if (repeated(group, event, buffer, take, false)) duplicates++;
    }
    // Rejections of waiting events come after those of the events settled at once.
    errors.sort((a, b) => a.index - b.index);
    return finish();
  });
}
