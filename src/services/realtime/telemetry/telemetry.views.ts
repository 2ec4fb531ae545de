import type { Dimensions, EventType } from './telemetry.schemas.js';

/**
 * Per-view metrics as a pure function of the view's events, so that the same events give the same
 * numbers whatever order and batches they arrived in.
 *
 * Only events that change the player's state are kept (compactly, in the view's row): heartbeats only
 * move the view's first/last event time, which are a min and a max, so they need neither storage nor
 * deduplication. State events are deduplicated by event_id and sorted before every recomputation.
 */

/** Type codes double as the order of events with equal timestamps (a play request before its first frame). */
export const CODE = { view_start: 0, bitrate_change: 1, playing: 2, rebuffer_start: 3, rebuffer_end: 4, pause: 5, error: 6, view_end: 7 } as const;
export type StateType = keyof typeof CODE;
export const isStateType = (t: EventType): t is StateType => t !== 'heartbeat';

/**
 * [ts ms, type code, event_id, value]: value is the bitrate (bitrate_change) or the dimensions
 * (view_start), absent otherwise. Arrays rather than objects: this is what the views table stores.
 */
export type StateEvent = [number, number, string] | [number, number, string, number | Dimensions];

export type ViewState = 'starting' | 'playing' | 'rebuffering' | 'paused' | 'ended';

export interface ViewMetrics {
  startedAt: number;
  endedAt: number | null;
  state: ViewState;
  startupMs: number | null;
  watchMs: number;
  playingMs: number;
  rebufferMs: number;
  rebufferCount: number;
  failed: boolean;
  exitedBeforeStart: boolean;
  /** Σ bitrate × playing ms at that bitrate, and the playing ms with a known bitrate: the time-weighted average's parts. */
  bitrateWeighted: number;
  bitrateMs: number;
  dimensions: Dimensions;
}

export function compareEvents(a: StateEvent, b: StateEvent): number {
  return a[0] - b[0] || a[1] - b[1] || (a[2] < b[2] ? -1 : a[2] > b[2] ? 1 : 0);
}

/**
 * Union of stored and new state events, one per event_id (the first seen wins), sorted. Returns the
 * merged list and whether anything new was added.
 */
export function mergeEvents(stored: StateEvent[], incoming: StateEvent[], max: number): { events: StateEvent[]; added: number; dropped: number } {
  const seen = new Set<string>();
  const out: StateEvent[] = [];
  for (const e of stored) {
    if (seen.has(e[2])) continue;
    seen.add(e[2]);
    out.push(e);
  }
  const before = out.length;
  let dropped = 0;
  for (const e of incoming) {
    if (seen.has(e[2])) continue;
    seen.add(e[2]);
    // A view's row must stay small enough to rewrite on every flush: past the cap, new state events
    // are dropped (and counted), which only a broken or hostile player reaches.
    if (out.length >= max) {
      dropped++;
      continue;
    }
    out.push(e);
  }
  out.sort(compareEvents);
  return { events: out, added: out.length - before, dropped };
}

/**
 * Replays the view's state events in order. Time between two consecutive events belongs to the state
 * the first one left the player in: starting and rebuffering count as watch time, playing as watch
 * and playing time (and towards the bitrate average), paused as nothing. The view runs from its play
 * request (view_start, else its first event) to view_end or a fatal error, or, while open, to its last
 * event of any kind (heartbeats included).
 */
export function computeView(events: StateEvent[], firstEventAt: number, lastEventAt: number): ViewMetrics {
  let viewStart: number | null = null;
  let dimensions: Dimensions = {};
  for (const e of events) {
    if (e[1] === CODE.view_start) {
      viewStart = e[0];
      if (typeof e[3] === 'object') dimensions = e[3];
      break;
    }
  }
  const startedAt = viewStart ?? Math.min(firstEventAt, events[0]?.[0] ?? firstEventAt);
  let state: ViewState = 'starting';
  let prev = startedAt;
  let firstPlaying: number | null = null;
  let endedAt: number | null = null;
  let failed = false;
  let bitrate: number | null = null;
  let watchMs = 0;
  let playingMs = 0;
  let rebufferMs = 0;
  let rebufferCount = 0;
  let bitrateWeighted = 0;
  let bitrateMs = 0;

  const advance = (t: number) => {
    if (t <= prev) return;
    const dt = t - prev;
    prev = t;
    if (state === 'starting') watchMs += dt;
    else if (state === 'rebuffering') {
      watchMs += dt;
      rebufferMs += dt;
    } else if (state === 'playing') {
      watchMs += dt;
      playingMs += dt;
      if (bitrate !== null) {
        bitrateWeighted += bitrate * dt;
        bitrateMs += dt;
      }
    }
  };

  for (const e of events) {
    if (state === 'ended') break;
    const [t, code] = e;
    advance(t);
    switch (code) {
      case CODE.playing:
        if (firstPlaying === null || t < firstPlaying) firstPlaying = t;
        state = 'playing';
        break;
      case CODE.rebuffer_start:
        // Only a stall after the first frame is a rebuffer; before it, it is startup time.
        if (state === 'playing') {
          state = 'rebuffering';
          rebufferCount++;
        }
        break;
      case CODE.rebuffer_end:
        if (state === 'rebuffering') state = 'playing';
        break;
      case CODE.pause:
        if (state !== 'paused') state = 'paused';
        break;
      case CODE.bitrate_change:
        bitrate = e[3] as number;
        break;
      case CODE.error:
        failed = true;
        endedAt = t;
        state = 'ended';
        break;
      case CODE.view_end:
        endedAt = t;
        state = 'ended';
        break;
    }
  }
  if (endedAt === null) advance(lastEventAt);
  const startupMs = viewStart !== null && firstPlaying !== null && firstPlaying >= viewStart ? firstPlaying - viewStart : null;
  return {
    startedAt,
    endedAt,
    state,
    startupMs,
    watchMs,
    playingMs,
    rebufferMs,
    rebufferCount,
    failed,
    exitedBeforeStart: endedAt !== null && !failed && firstPlaying === null,
    bitrateWeighted,
    bitrateMs,
    dimensions,
  };
}
