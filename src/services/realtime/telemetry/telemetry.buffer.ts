import type { FastifyBaseLogger } from 'fastify';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { Clock, Database, TimerHandle } from '../../../core/ports/index.js';
import { telemetryRepository as repo, type ViewKey, type ViewRow } from './telemetry.repository.js';
import { computeView, mergeEvents, type StateEvent } from './telemetry.views.js';
import type { ValidEvent } from './telemetry.validator.js';
import { WrittenViews, type WrittenView } from './telemetry.written.js';

/**
 * Buffered entries (one per pending view plus one per pending state event; heartbeats only move a
 * pending view's times and take no room). Full → the route answers 503 telemetry_backlog. At ~150
 * bytes an entry this bounds the buffer near 15 MB. Default of STREAMPLANE_TELEMETRY_BUFFER_MAX_ENTRIES.
 */
export const BUFFER_MAX_ENTRIES = 100_000;
/**
 * How often the buffer is written (sooner when FLUSH_EARLY_ENTRIES pile up). A flush costs per distinct
 * view (each touched view's row is read, recomputed and rewritten: 100-200 µs a view on PGlite here),
 * not per event, so a longer interval folds more of a view's events into one write. Measured with the
 * bench (2,000 active views): 1 s gave 0.10 of the limit, 5 s 0.27 (bench/README.md); metrics are at
 * most this far behind. Wanted as STREAMPLANE_TELEMETRY_FLUSH_MS.
 */
export const FLUSH_INTERVAL_MS = 5_000;
/** A buffer this full is written at once instead of at the next tick. */
const FLUSH_EARLY_ENTRIES = 20_000;
/** Views per transaction: bounds statement size and how long rows stay locked. */
const FLUSH_MAX_VIEWS = 2_000;
/** State events kept per view (its row is rewritten whole on every flush that touches it). */
export const VIEW_MAX_STATE_EVENTS = 2_000;

interface PendingView extends ViewKey {
  events: StateEvent[];
  first_event_at: number;
  last_event_at: number;
}

/**
 * Values by session, viewer and view id. Nested maps rather than one map on a joined key: a key
 * string built per event (concatenation, then flattening and hashing it) was the costliest part of
 * accepting a batch, while the parsed id strings hash once and keep their hash.
 */
class ViewMap<T extends ViewKey> {
  #bySession = new Map<string, Map<string, Map<string, T>>>();
  #size = 0;

  get size(): number {
    return this.#size;
  }

  get(sessionId: string, viewerId: string, viewId: string): T | undefined {
    return this.#bySession.get(sessionId)?.get(viewerId)?.get(viewId);
  }

  set(v: T): void {
    let viewers = this.#bySession.get(v.session_id);
    if (!viewers) this.#bySession.set(v.session_id, (viewers = new Map()));
    let views = viewers.get(v.viewer_id);
    if (!views) viewers.set(v.viewer_id, (views = new Map()));
    if (!views.has(v.view_id)) this.#size++;
    views.set(v.view_id, v);
  }

  delete(k: ViewKey): void {
    const viewers = this.#bySession.get(k.session_id);
    const views = viewers?.get(k.viewer_id);
    if (!views?.delete(k.view_id)) return;
    this.#size--;
    if (views.size === 0) viewers!.delete(k.viewer_id);
    if (viewers!.size === 0) this.#bySession.delete(k.session_id);
  }

  /** Removes and returns up to `n` values. */
  take(n: number): T[] {
    const out: T[] = [];
    for (const [sessionId, viewers] of this.#bySession) {
      for (const [viewerId, views] of viewers) {
        for (const [viewId, v] of views) {
          if (out.length >= n) return out;
          out.push(v);
          views.delete(viewId);
          this.#size--;
        }
        if (views.size === 0) viewers.delete(viewerId);
      }
      if (viewers.size === 0) this.#bySession.delete(sessionId);
    }
    return out;
  }
}

export interface BufferMetrics {
  /** The buffer registers how to read its size; the gauge reads it when scraped, not on every batch. */
  buffered: { read(entries: () => number): void };
  flushes: Counter<'result'>;
  flushSeconds: Histogram;
  dropped: { inc(n: number): void };
}

export function bufferMetrics(registry: Registry, dropped: { inc(n: number): void }): BufferMetrics {
  let entries = () => 0;
  new Gauge({
    name: 'streamplane_telemetry_buffered_entries',
    help: 'Telemetry views and state events accepted but not yet written (pending and in flight).',
    registers: [registry],
    collect() {
      this.set(entries());
    },
  });
  return {
    buffered: { read: (fn) => void (entries = fn) },
    flushes: new Counter({ name: 'streamplane_telemetry_flushes_total', help: 'Writes of the telemetry buffer by result.', labelNames: ['result'] as const, registers: [registry] }),
    flushSeconds: new Histogram({ name: 'streamplane_telemetry_flush_duration_seconds', help: 'Time to write one chunk of the telemetry buffer.', buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5], registers: [registry] }),
    dropped,
  };
}

/** Views whose written state this instance remembers, to drop repeats before they are buffered. */
export const WRITTEN_VIEWS_REMEMBERED = 10_000;

/**
 * The per-instance write-behind buffer: accepted events are grouped by view in memory and written
 * every FLUSH_INTERVAL_MS, each touched view's row merged with what is stored and recomputed in one
 * transaction. A failed write puts the chunk back (its entries never left the count, so the bound
 * holds) and the next tick retries it; meanwhile a full buffer refuses new batches with 503.
 */
export class TelemetryBuffer {
  #pending = new ViewMap<PendingView>();
  /** What this instance last wrote of recent views (see `known`). */
  #written: WrittenViews;
  /** The view `known` found last (still a true subset of what is stored, even once forgotten). */
  #lastWritten: WrittenView | undefined;
  /** Entries pending plus entries in a flush that has not committed. */
  #entries = 0;
  #flushing: Promise<void> | null = null;
  #timer: TimerHandle | null = null;
  #closed = false;

  constructor(
    private readonly db: Database,
    private readonly clock: Clock,
    private readonly log: FastifyBaseLogger,
    private readonly metrics: BufferMetrics,
    private readonly opts: { flushMs: number; maxEntries: number; rememberedViews?: number } = { flushMs: FLUSH_INTERVAL_MS, maxEntries: BUFFER_MAX_ENTRIES },
  ) {
    this.#written = new WrittenViews(opts.rememberedViews ?? WRITTEN_VIEWS_REMEMBERED);
    metrics.buffered.read(() => this.#entries);
  }

  start(): void {
    this.#timer = this.clock.setInterval(() => void this.flush(), this.opts.flushMs);
  }

  get entries(): number {
    return this.#entries;
  }

  /** Whether `n` more events could be taken (each takes at most two entries: a new view and a state event). */
  hasRoomFor(n: number): boolean {
    return !this.#closed && this.#entries + 2 * n <= this.opts.maxEntries;
  }

  /**
   * Whether `e` changes nothing of what this instance last wrote of its view: an event it already
   * stored (a beacon's retry, an at-least-once resend), or a heartbeat inside the view's stored time
   * span. Such an event is dropped instead of costing a read and a rewrite of the view at the next
   * flush. What is remembered is only ever a subset of what is stored (rows grow), so nothing new is
   * dropped.
   */
  known(e: ValidEvent): boolean {
    // The last view looked up is checked first: a player's batch is one view's events.
    let w = this.#lastWritten;
    if (!w || w.view_id !== e.viewId || w.viewer_id !== e.viewerId || w.session_id !== e.sessionId) {
      if (this.#written.size === 0) return false;
      w = this.#written.get(e.sessionId, e.viewerId, e.viewId);
      if (!w) return false;
      this.#lastWritten = w;
    }
    return e.state ? w.ids.has(e.state[2]) : e.ts >= w.first && e.ts <= w.last;
  }

  /** Buffers events, but those already written (`known`). */
  add(events: ValidEvent[]): void {
    this.insert(events.filter((e) => !this.known(e)));
  }

  /** Buffers events the caller found not `known`. */
  insert(events: ValidEvent[]): void {
    // The last view looked up is checked first: a player's batch is one view's events.
    let last: PendingView | undefined;
    for (const e of events) {
      let v = last && last.view_id === e.viewId && last.viewer_id === e.viewerId && last.session_id === e.sessionId ? last : this.#pending.get(e.sessionId, e.viewerId, e.viewId);
      if (!v) {
        v = { session_id: e.sessionId, viewer_id: e.viewerId, view_id: e.viewId, events: [], first_event_at: e.ts, last_event_at: e.ts };
        this.#pending.set(v);
        this.#entries++;
      } else {
        if (e.ts < v.first_event_at) v.first_event_at = e.ts;
        if (e.ts > v.last_event_at) v.last_event_at = e.ts;
      }
      last = v;
      if (e.state) {
        v.events.push(e.state);
        this.#entries++;
      }
    }
    if (this.#entries >= FLUSH_EARLY_ENTRIES && !this.#flushing) void this.flush();
  }

  /** Writes what is pending now (in chunks); resolves when done or when a chunk failed. */
  flush(): Promise<void> {
    if (this.#flushing) return this.#flushing;
    if (this.#pending.size === 0) return Promise.resolve();
    this.#flushing = this.#drain().finally(() => {
      this.#flushing = null;
    });
    return this.#flushing;
  }

  /** Stops the timer and writes everything still buffered (called from onClose, before the database closes). */
  async close(): Promise<void> {
    this.#closed = true;
    this.#timer?.cancel();
    // Wait for a flush in progress, then drain; stop at the first failure instead of spinning on a dead database.
    await this.#flushing;
    let before = -1;
    while (this.#pending.size > 0 && this.#entries !== before) {
      before = this.#entries;
      await this.flush();
    }
    if (this.#pending.size > 0) this.log.error({ entries: this.#entries, views: this.#pending.size }, 'telemetry buffer not written at shutdown: these events are lost');
  }

  async #drain(): Promise<void> {
    // Only what was pending when the flush began: a steady stream must not keep one flush going forever.
    let chunks = Math.ceil(this.#pending.size / FLUSH_MAX_VIEWS);
    while (chunks-- > 0 && this.#pending.size > 0) {
      const chunk = this.#pending.take(FLUSH_MAX_VIEWS);
      const taken = chunk.reduce((n, v) => n + 1 + v.events.length, 0);
      const stop = this.metrics.flushSeconds.startTimer();
      try {
        await this.#write(chunk);
        this.#entries -= taken;
        this.metrics.flushes.inc({ result: 'ok' });
      } catch (err) {
        this.#putBack(chunk);
        this.metrics.flushes.inc({ result: 'failed' });
        this.log.warn({ err, views: chunk.length, entries: taken }, 'telemetry flush failed; kept for the next attempt');
        return;
      } finally {
        stop();
      }
    }
  }

  #putBack(chunk: PendingView[]): void {
    for (const v of chunk) {
      const newer = this.#pending.get(v.session_id, v.viewer_id, v.view_id);
      if (!newer) {
        this.#pending.set(v);
        continue;
      }
      // Events that arrived during the failed write: merge them in, and the merged view takes one entry.
      newer.events = v.events.concat(newer.events);
      newer.first_event_at = Math.min(newer.first_event_at, v.first_event_at);
      newer.last_event_at = Math.max(newer.last_event_at, v.last_event_at);
      this.#entries--;
    }
  }

  async #write(chunk: PendingView[]): Promise<void> {
    chunk.sort((a, b) => (a.session_id < b.session_id ? -1 : a.session_id > b.session_id ? 1 : a.viewer_id < b.viewer_id ? -1 : a.viewer_id > b.viewer_id ? 1 : a.view_id < b.view_id ? -1 : a.view_id > b.view_id ? 1 : 0));
    const byKey = new ViewMap<PendingView>();
    for (const v of chunk) byKey.set(v);
    let dropped = 0;
    let written: ViewRow[] = [];
    await this.db.transaction(async (tx) => {
      const stored = await repo.lockViews(tx, chunk.map((v) => ({ session_id: v.session_id, viewer_id: v.viewer_id, view_id: v.view_id, first_event_at: v.first_event_at, last_event_at: v.last_event_at })));
      const rows: ViewRow[] = [];
      for (const s of stored) {
        const p = byKey.get(s.session_id, s.viewer_id, s.view_id);
        if (!p) continue;
        const merged = mergeEvents(s.events, p.events, VIEW_MAX_STATE_EVENTS);
        dropped += merged.dropped;
        const first = Math.min(s.first_event_at, p.first_event_at);
        const last = Math.max(s.last_event_at, p.last_event_at);
        // Nothing new (retried or duplicated batches, which at-least-once beacons send): no rewrite.
        if (!s.fresh && merged.added === 0 && first === s.first_event_at && last === s.last_event_at) continue;
        rows.push({ ...s, events: merged.events, first_event_at: first, last_event_at: last, metrics: computeView(merged.events, first, last) });
      }
      await repo.updateViews(tx, rows);
      written = rows;
    });
    for (const r of written) this.#written.remember(r);
    if (dropped > 0) {
      this.metrics.dropped.inc(dropped);
      this.log.warn({ dropped }, `telemetry state events dropped: views are capped at ${VIEW_MAX_STATE_EVENTS}`);
    }
  }
}
