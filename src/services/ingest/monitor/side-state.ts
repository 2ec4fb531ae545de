import type { PublisherRow, Side } from '../ingests/ingest.repository.js';
import type { StreamSample } from './node-health.board.js';

export type SideState = 'idle' | 'receiving' | 'stalled' | 'down';

export interface SideInput {
  publisher: PublisherRow | null;
  nodeHealth: 'up' | 'down' | 'unknown';
  /** When the poll that measured the node's health was sent (null: never). */
  healthCheckedAt: number | null;
  /** The node has a stats page that answered recently (so absence from it means something). */
  statsAuthoritative: boolean;
  sample: StreamSample | undefined;
  now: number;
  stallMs: number;
  /** How long after a publish a stream may still be missing from stats (it shows within ~0.4 s on nginx). */
  appearGraceMs: number;
  publisherTimeoutMs: number;
}

export interface SideVerdict {
  state: SideState;
  /** Set when the publisher should be considered gone (the event that said so was lost). */
  lost: string | null;
}

/**
 * The state of one side of an ingest, from the three sources the coordinator has: the publisher row
 * (callbacks), the node's health and the stream's bytes in its stats. Callbacks are at-least-once,
 * unordered and sometimes missing, so stats win where there are any; without stats, the update
 * callbacks' silence is what tells a publisher is gone.
 */
export function evaluateSide(i: SideInput): SideVerdict {
  const p = i.publisher;
  if (!p) return { state: 'idle', lost: null };
  if (p.state === 'gone') return { state: 'down', lost: null };
  // A publish accepted after the last failed poll proves the node is back: wait for the next poll.
  if (i.nodeHealth === 'down' && (i.healthCheckedAt ?? 0) > p.started_at.getTime()) return { state: 'down', lost: 'node_down' };
  if (i.nodeHealth === 'down') return { state: 'receiving', lost: null };
  const since = i.now - p.started_at.getTime();
  if (i.statsAuthoritative) {
    if (!i.sample) return since > i.appearGraceMs ? { state: 'down', lost: 'absent_from_stats' } : { state: 'receiving', lost: null };
    // A stream re-published on this side is measured from its own start, not the previous one's bytes.
    const lastGrowth = Math.max(i.sample.lastGrowthAt, p.started_at.getTime());
    return i.now - lastGrowth >= i.stallMs ? { state: 'stalled', lost: null } : { state: 'receiving', lost: null };
  }
  return i.now - p.last_seen_at.getTime() > i.publisherTimeoutMs ? { state: 'down', lost: 'no_updates' } : { state: 'receiving', lost: null };
}

/**
 * Whether a redundant ingest should switch its active side now. Only a bad active side with a good
 * other side switches (so a primary that recovers does not take over again: no flapping), and a
 * stalled or idle side waits out the cooldown since the last switch; a side that is down does not.
 */
export function decideFailover(f: { active: Side; states: Record<Side, SideState>; lastFailoverAt: number | null; now: number; cooldownMs: number }): { to: Side; reason: string } | null {
  const other: Side = f.active === 'primary' ? 'backup' : 'primary';
  if (f.states[other] !== 'receiving') return null;
  const a = f.states[f.active];
  if (a === 'receiving') return null;
  if (a !== 'down' && f.lastFailoverAt !== null && f.now - f.lastFailoverAt < f.cooldownMs) return null;
  return { to: other, reason: `${f.active}_${a}` };
}
