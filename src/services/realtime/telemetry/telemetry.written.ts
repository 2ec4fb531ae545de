import type { ViewKey } from './telemetry.repository.js';
import type { StateEvent } from './telemetry.views.js';

/** What this instance last wrote of one view. */
export interface WrittenView extends ViewKey {
  /** event_ids of the view's stored state events. */
  ids: Set<string>;
  /** The view's stored first and last event times (epoch ms). */
  first: number;
  last: number;
  /** The next view of the same session under the same key (another viewer using the same view_id). */
  next: WrittenView | undefined;
}

/** Views sharing one key in a session beyond which a new one is not remembered (see `remember`). */
const MAX_CHAIN = 8;

/**
 * The views this instance wrote most recently (at most `max`, first written first forgotten), looked
 * up for every accepted event to drop a resend before it is buffered. That lookup is a cold memory
 * access per event when a batch spans many views (a collector's batch: ~100 views), so the index has
 * two levels, session then view_id (viewer_id for views without one), instead of session, viewer and
 * view: each level is a map whose table and key strings miss the cache. Views of different viewers
 * with the same view_id chain behind one key and are told apart by viewer_id.
 *
 * Forgetting or not remembering a view only costs a read of its row at the next flush (the resend is
 * then found unchanged there): this is an optimisation, never the record of what is stored.
 */
export class WrittenViews {
  #sessions = new Map<string, Map<string, WrittenView>>();
  /** Oldest write first. */
  #order = new Set<WrittenView>();

  constructor(private readonly max: number) {}

  get size(): number {
    return this.#order.size;
  }

  get(sessionId: string, viewerId: string, viewId: string): WrittenView | undefined {
    for (let w = this.#sessions.get(sessionId)?.get(viewId === '' ? viewerId : viewId); w; w = w.next) {
      if (w.view_id === viewId && w.viewer_id === viewerId) return w;
    }
    return undefined;
  }

  /** Records what was just written of a view: its state events' ids and its time span. */
  remember(v: ViewKey & { events: readonly StateEvent[]; first_event_at: number; last_event_at: number }): void {
    const ids = new Set<string>();
    for (const e of v.events) ids.add(e[2]);
    const known = this.get(v.session_id, v.viewer_id, v.view_id);
    if (known) {
      known.ids = ids;
      known.first = v.first_event_at;
      known.last = v.last_event_at;
      this.#order.delete(known);
      this.#order.add(known);
      return;
    }
    let views = this.#sessions.get(v.session_id);
    if (!views) this.#sessions.set(v.session_id, (views = new Map()));
    const key = v.view_id === '' ? v.viewer_id : v.view_id;
    const head = views.get(key);
    let chain = 0;
    for (let w = head; w; w = w.next) chain++;
    // Many viewers reusing one view_id ("1", "main"…) would make every lookup walk them all.
    if (chain >= MAX_CHAIN) return;
    const w: WrittenView = { session_id: v.session_id, viewer_id: v.viewer_id, view_id: v.view_id, ids, first: v.first_event_at, last: v.last_event_at, next: head };
    views.set(key, w);
    this.#order.add(w);
    if (this.#order.size > this.max) this.#forget(this.#order.values().next().value!);
  }

  #forget(w: WrittenView): void {
    this.#order.delete(w);
    const views = this.#sessions.get(w.session_id)!;
    const key = w.view_id === '' ? w.viewer_id : w.view_id;
    const head = views.get(key);
    if (head === w) {
      if (w.next) views.set(key, w.next);
      else views.delete(key);
    } else {
      let prev = head;
      while (prev && prev.next !== w) prev = prev.next;
      if (prev) prev.next = w.next;
    }
    if (views.size === 0) this.#sessions.delete(w.session_id);
  }
}
