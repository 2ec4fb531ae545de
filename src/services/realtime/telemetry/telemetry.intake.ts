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

/** Takes a batch's events: the 202 answer, now or once the database has said which sessions exist. */
export function takeBatch(raw: unknown[], ctx: Intake): BatchResult | Promise<BatchResult> {
  const result: BatchResult = { accepted: 0, rejected: 0, duplicates: 0, errors: [] };
  const groups = new Map<string, SessionGroup>();
  const take: ValidEvent[] = [];
  let waiting: Array<{ index: number; event: ValidEvent; group: SessionGroup }> | null = null;
  const reject = (index: number, r: Rejection) => {
    result.errors.push({ index, reason: r.reason, detail: r.detail });
    ctx.count(r.reason);
  };
  const settle = (index: number, e: ValidEvent, g: SessionGroup, copy: boolean) => {
    if (!g.known) return reject(index, new Rejection('unknown_session', `session ${e.sessionId} does not exist`));
    result.accepted++;
    // One lookup: the set grows unless the id was already in it.
    const before = g.ids.size;
    g.ids.add(e.eventId);
    if (g.ids.size === before) result.duplicates++;
    else if (!ctx.buffer.known(e)) take.push(copy ? { ...e } : e);
  };

  const e = blankEvent();
  for (let i = 0; i < raw.length; i++) {
    let r = checkEvent(raw[i], ctx.now, ctx.limits, e, groups);
    if (!r && ctx.viewer) {
      if (e.sessionId !== ctx.viewer.sid) r = FORBIDDEN_SESSION;
      else if (e.viewerId !== ctx.viewer.sub) r = FORBIDDEN_VIEWER;
    }
    if (r) {
      reject(i, r);
      continue;
    }
    let g = groups.get(e.sessionId);
    if (!g) groups.set(e.sessionId, (g = { known: ctx.sessions.cachedOne(e.sessionId), ids: new Set() }));
    if (g.known === undefined) (waiting ??= []).push({ index: i, event: { ...e }, group: g });
    else settle(i, e, g, true);
  }

  const finish = (): BatchResult => {
    ctx.buffer.insert(take);
    result.rejected = result.errors.length;
    return result;
  };
  if (!waiting) return finish();
  const asked = waiting;
  const ids = [...groups].filter(([, g]) => g.known === undefined).map(([id]) => id);
  return ctx.sessions.existing(ids).then((found) => {
    for (const id of ids) groups.get(id)!.known = found.has(id);
    for (const w of asked) settle(w.index, w.event, w.group, false);
    // Rejections of waiting events come after those of the events settled at once.
    result.errors.sort((a, b) => a.index - b.index);
    return finish();
  });
}
