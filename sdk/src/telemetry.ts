import type { components } from './api-types.js';
import { Backoff, systemTimers, type BackoffOptions, type Timers } from './backoff.js';
import { createStreamplaneClient, type StreamplaneClient } from './rest.js';
import { expiresSoon, randomUuid } from './token.js';

type TelemetryEvent = components['schemas']['TelemetryEvent'];
type BatchResult = components['schemas']['TelemetryBatchResult'];
export type TelemetryEventType = TelemetryEvent['type'];

/** What the beacon listens to for "the page is going away": `document` and `window` in a browser. */
export interface LifecycleTarget {
  addEventListener(type: string, listener: () => void): void;
  removeEventListener(type: string, listener: () => void): void;
  readonly visibilityState?: string;
}

export interface TelemetryBeaconOptions {
  baseUrl: string;
  /** A viewer access token with the `view` scope (or give `getToken`). */
  token?: string;
  /** Called for the first token, after a 401, and when the token is about to expire. */
  getToken?: () => string | Promise<string>;
  sessionId: string;
  viewerId: string;
  /** One playback attempt; change it with `setViewId` when the player starts another. */
  viewId?: string;
  flushIntervalMs?: number;
  /** Events per request (the server takes up to STREAMPLANE_TELEMETRY_MAX_BATCH_EVENTS, default 500). */
  maxBatch?: number;
  /** Events kept while the server cannot be reached; past it the oldest are dropped (and counted). */
  maxQueue?: number;
  fetch?: (request: Request) => Promise<Response>;
  timers?: Timers;
  backoff?: BackoffOptions;
  /** `globalThis.document` by default; null: no visibility listener (Node). */
  document?: LifecycleTarget | null;
  /** `globalThis.window` by default; null: no pagehide listener. */
  window?: LifecycleTarget | null;
  /** Every 202 answer, with the events it was about: per-event rejections are in `result.errors`. */
  onResult?: (result: BatchResult, events: TelemetryEvent[]) => void;
}

export interface TelemetryStats {
  queued: number;
  /** Events the server answered 202 for: accepted + rejected. */
  sent: number;
  accepted: number;
  rejected: number;
  /** Dropped from a full queue (oldest first). */
  dropped: number;
  /** In batches the server refused with a 4xx: not retried, since resending would be refused again. */
  discarded: number;
  retries: number;
  last_error: string | null;
}

/** Keepalive requests may carry 64 KiB in total in browsers; stay under it with one batch. */
const MAX_BATCH_BYTES = 60_000;

/**
 * Player telemetry for `POST /api/v1/telemetry/events`: queues events, sends them in batches on an
 * interval, when a batch is full, and when the page is hidden or unloaded.
 *
 * Not `navigator.sendBeacon`: the endpoint authenticates only by `Authorization: Bearer`, which
 * sendBeacon cannot set. The page-hide flush is `fetch(…, { keepalive: true })`, which outlives the
 * page like a beacon and can carry the header.
 */
export class TelemetryBeacon {
  private queue: TelemetryEvent[] = [];
  private inflight: Promise<void> | null = null;
  private retryTimer: unknown = null;
  private intervalTimer: unknown = null;
  private token: string | undefined;
  private viewId: string | undefined;
  private closed = false;
  private readonly api: StreamplaneClient;
  private readonly timers: Timers;
  private readonly backoff: Backoff;
  private readonly flushIntervalMs: number;
  private readonly maxBatch: number;
  private readonly maxQueue: number;
  private readonly doc: LifecycleTarget | null;
  private readonly win: LifecycleTarget | null;
  private readonly s: Omit<TelemetryStats, 'queued'> = { sent: 0, accepted: 0, rejected: 0, dropped: 0, discarded: 0, retries: 0, last_error: null };

  constructor(private readonly opts: TelemetryBeaconOptions) {
    if (!opts.token && !opts.getToken) throw new TypeError('pass token or getToken');
    this.token = opts.token;
    this.viewId = opts.viewId;
    this.api = createStreamplaneClient({ baseUrl: opts.baseUrl, ...(opts.fetch ? { fetch: opts.fetch } : {}) });
    this.timers = opts.timers ?? systemTimers;
    this.backoff = new Backoff({ baseMs: 1_000, capMs: 60_000, ...opts.backoff });
    this.flushIntervalMs = opts.flushIntervalMs ?? 10_000;
    this.maxBatch = Math.max(1, opts.maxBatch ?? 100);
    this.maxQueue = Math.max(this.maxBatch, opts.maxQueue ?? 1_000);
    const g = globalThis as { document?: LifecycleTarget; window?: LifecycleTarget };
    this.doc = opts.document === undefined ? (g.document ?? null) : opts.document;
    this.win = opts.window === undefined ? (g.window ?? null) : opts.window;
    this.doc?.addEventListener('visibilitychange', this.onVisibility);
    this.win?.addEventListener('pagehide', this.onHide);
    this.scheduleInterval();
  }

  setViewId(viewId: string | undefined): void {
    this.viewId = viewId;
  }

  /** Queues one event, stamped now with a fresh event_id (the server counts a resent event_id once). */
  track(type: TelemetryEventType, data?: TelemetryEvent['data']): void {
    if (this.closed) return;
    this.enqueue([{
      event_id: randomUuid(), session_id: this.opts.sessionId, viewer_id: this.opts.viewerId,
      ...(this.viewId !== undefined ? { view_id: this.viewId } : {}),
      type, ts: new Date().toISOString(), ...(data !== undefined ? { data } : {}),
    }]);
    if (this.queue.length >= this.maxBatch && this.retryTimer === null) void this.flush();
  }

  stats(): TelemetryStats {
    return { queued: this.queue.length, ...this.s };
  }

  /**
   * Sends everything queued, one batch at a time; resolves when done or when a failure left the rest
   * for a retry. Never rejects.
   */
  flush(): Promise<void> {
    if (this.inflight) return this.inflight;
    if (this.queue.length === 0) return Promise.resolve();
    if (this.retryTimer !== null) {
      // An explicit flush does not wait for the retry timer.
      this.timers.clearTimeout(this.retryTimer);
      this.retryTimer = null;
    }
    this.inflight = this.drain(false).finally(() => (this.inflight = null));
    return this.inflight;
  }

  /** Stops the timers and listeners, then sends what is queued (with keepalive: the page may be leaving). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.doc?.removeEventListener('visibilitychange', this.onVisibility);
    this.win?.removeEventListener('pagehide', this.onHide);
    for (const t of [this.intervalTimer, this.retryTimer]) if (t !== null) this.timers.clearTimeout(t);
    this.intervalTimer = this.retryTimer = null;
    await this.inflight;
    await this.drain(true);
  }

  private readonly onVisibility = () => {
    if (this.doc?.visibilityState === 'hidden') this.onHide();
  };

  /** The page may never run again: send it all now, with keepalive, and do not wait for retries. */
  private readonly onHide = () => {
    if (this.queue.length > 0 && !this.inflight) {
      this.inflight = this.drain(true).finally(() => (this.inflight = null));
    }
  };

  private scheduleInterval(): void {
    if (this.closed || this.flushIntervalMs <= 0) return;
    this.intervalTimer = this.timers.setTimeout(() => {
      if (this.retryTimer === null) void this.flush();
      this.scheduleInterval();
    }, this.flushIntervalMs);
  }

  private enqueue(events: TelemetryEvent[], front = false): void {
    this.queue = front ? [...events, ...this.queue] : [...this.queue, ...events];
    const excess = this.queue.length - this.maxQueue;
    if (excess > 0) {
      this.queue.splice(0, excess);
      this.s.dropped += excess;
    }
  }

  /** The next batch: at most maxBatch events and MAX_BATCH_BYTES of JSON. */
  private takeBatch(): TelemetryEvent[] {
    let n = Math.min(this.maxBatch, this.queue.length);
    while (n > 1 && JSON.stringify(this.queue.slice(0, n)).length > MAX_BATCH_BYTES) n = Math.ceil(n / 2);
    return this.queue.splice(0, n);
  }

  private async drain(keepalive: boolean): Promise<void> {
    let refreshed = false;
    while (this.queue.length > 0) {
      const batch = this.takeBatch();
      const outcome = await this.post(batch, keepalive, refreshed);
      if (outcome === 'ok') {
        this.backoff.reset();
        refreshed = false;
      } else if (outcome === 'refresh') {
        // One retry with a fresh token; a second 401 for the same batch discards it.
        refreshed = true;
        this.enqueue(batch, true);
      } else if (outcome === 'discard') {
        this.s.discarded += batch.length;
      } else {
        this.enqueue(batch, true);
        if (!keepalive && !this.closed) this.scheduleRetry(outcome.retryAfterMs);
        return;
      }
    }
  }

  private async post(events: TelemetryEvent[], keepalive: boolean, refreshed: boolean): Promise<'ok' | 'refresh' | 'discard' | { retryAfterMs: number }> {
    let token: string;
    try {
      token = await this.currentToken(keepalive);
    } catch (err) {
      this.s.last_error = `getToken failed: ${String(err)}`;
      return { retryAfterMs: 0 };
    }
    try {
      const { data, response } = await this.api.POST('/api/v1/telemetry/events', {
        body: { events },
        headers: { authorization: `Bearer ${token}` },
        keepalive,
      });
      if (response.status === 202 && data) {
        this.s.sent += events.length;
        this.s.accepted += data.accepted;
        this.s.rejected += data.rejected;
        this.opts.onResult?.(data, events);
        return 'ok';
      }
      this.s.last_error = `HTTP ${response.status}`;
      if (response.status === 401 && this.opts.getToken && !refreshed) {
        this.token = undefined;
        return 'refresh';
      }
      // 429 says "later", like a 5xx; any other 4xx would be refused again.
      if (response.status === 429 || response.status >= 500) return { retryAfterMs: retryAfterMs(response.headers.get('retry-after')) };
      return 'discard';
    } catch (err) {
      this.s.last_error = `network: ${String(err)}`;
      return { retryAfterMs: 0 };
    }
  }

  private async currentToken(keepalive: boolean): Promise<string> {
    const { getToken } = this.opts;
    // On page hide there may be no time for a token round trip: use the one we have.
    const stale = this.token === undefined || (!keepalive && expiresSoon(this.token));
    if (getToken && stale) this.token = await getToken();
    if (!this.token) throw new Error('no token');
    return this.token;
  }

  private scheduleRetry(minMs: number): void {
    this.s.retries++;
    const delay = Math.max(minMs, this.backoff.next());
    this.retryTimer = this.timers.setTimeout(() => {
      this.retryTimer = null;
      void this.flush();
    }, delay);
  }
}

function retryAfterMs(header: string | null): number {
  const seconds = header === null ? NaN : Number(header);
  return Number.isFinite(seconds) && seconds > 0 ? Math.min(seconds, 300) * 1000 : 0;
}
