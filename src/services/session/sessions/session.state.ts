import { conflict } from '../../../core/errors.js';

/**
 * The session state machine. `go_live` is driven by ingest (first accepted publish, through the
 * `session.live` event); `end` by `sessions/stop` or by ingest when the reconnect window lapses.
 *
 *   created --go_live--> live --end--> ended
 *   created ------------end----------> ended
 */
export type SessionStatus = 'created' | 'live' | 'ended';
export type SessionTransition = 'go_live' | 'end';

const TABLE: Record<SessionStatus, Partial<Record<SessionTransition, SessionStatus>>> = {
  created: { go_live: 'live', end: 'ended' },
  live: { end: 'ended' },
  ended: {},
};

export function nextStatus(from: SessionStatus, transition: SessionTransition): SessionStatus | null {
  return TABLE[from][transition] ?? null;
}

/** The next status, or a 409 problem naming the illegal transition. */
export function assertTransition(id: string, from: SessionStatus, transition: SessionTransition): SessionStatus {
  const to = nextStatus(from, transition);
  if (!to) {
    throw conflict('illegal_transition', `Session ${id} is ${from}; it cannot ${transition.replace('_', ' ')}.`, { status_now: from, transition });
  }
  return to;
}
