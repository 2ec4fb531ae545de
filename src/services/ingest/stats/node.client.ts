import {
  BrokenCircuitError,
  CircuitState,
  ConsecutiveBreaker,
  ExponentialBackoff,
  TaskCancelledError,
  TimeoutStrategy,
  circuitBreaker,
  handleAll,
  retry,
  timeout,
  wrap,
  type CircuitBreakerPolicy,
  type IDisposable,
  type IPolicy,
} from 'cockatiel';
import type { MediaServerKind } from '../../../core/ports/media-server.js';
import { parseMediamtxPaths } from './mediamtx-stats.parser.js';
import { parseNginxStat } from './nginx-stat.parser.js';
import { parseSrsStreams } from './srs-stats.parser.js';
import { StatsParseError, type NodeStats } from './stream-stats.js';

export type BreakerState = 'closed' | 'open' | 'half-open';

export interface MediaServerClientOptions {
  /** nginx-rtmp `…/stat`, SRS `…/api/v1/streams/`, MediaMTX `…/v3/paths/list`. `user:pass@` becomes Basic auth. */
  statsUrl?: string | null;
  /** nginx-rtmp `rtmp_control` location, e.g. `http://127.0.0.1:8080/control`. */
  controlUrl?: string | null;
  kind: MediaServerKind;
  /** Per attempt, covering connect, headers and the whole body. */
  timeoutMs: number;
  /** Further attempts after a failed one (cockatiel's `maxAttempts`): 2 means up to 3 requests per call. */
  retries: number;
  /** Opens after `consecutiveFailures` failed calls (each after its retries); lets one trial call through `halfOpenAfterMs` later. */
  breaker: { consecutiveFailures: number; halfOpenAfterMs: number };
  onStateChange?: (state: BreakerState) => void;
  /** Bodies larger than this are refused while streaming in (default 16 MiB). */
  maxBodyBytes?: number;
}

export const DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024;

/** SRS and MediaMTX page their lists (10 and 100 by default); one large page keeps a poll atomic. */
const LIST_PAGE_SIZE = 100_000;

/**
 * nginx-rtmp's control module compares `app` and `name` byte for byte with the raw query value (no URL
 * decoding), so only characters that travel unencoded can address a stream.
 */
const CONTROL_SAFE = /^[A-Za-z0-9._~!$()*+,;=:@/-]+$/;

/** The node did not answer in time, refused the connection, or the breaker is open and the call was not made. */
export class NodeUnreachableError extends Error {
  /** True when the call failed fast because the breaker is open; `cause` is then the failure that opened it. */
  readonly circuitOpen: boolean;
  constructor(message: string, options: { cause: unknown; circuitOpen?: boolean }) {
    super(message, { cause: options.cause });
    this.name = 'NodeUnreachableError';
    this.circuitOpen = options.circuitOpen ?? false;
  }
}

/** The node answered with a non-2xx status. */
export class NodeHttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'NodeHttpError';
  }
}

export class ResponseTooLargeError extends Error {
  constructor(readonly limitBytes: number, where: string) {
    super(`${where}: response body is over ${limitBytes} bytes`);
    this.name = 'ResponseTooLargeError';
  }
}

/** This server kind (or this node's configuration) cannot do what was asked; retrying will not help. */
export class NotSupportedError extends Error {
  constructor(
    readonly kind: MediaServerKind,
    readonly operation: 'fetchStats' | 'dropPublisher',
    message: string,
  ) {
    super(message);
    this.name = 'NotSupportedError';
  }
}

interface Target {
  url: URL;
  /** origin + path, for messages: never the query or credentials. */
  label: string;
  headers: Record<string, string>;
}

/**
 * The ingest service's HTTP client for one media server: stats polling and the control calls, each
 * attempt under a timeout, retried with backoff, behind a circuit breaker shared by both kinds of call
 * (one node, one health). Whoever creates it calls dispose().
 */
export class MediaServerClient {
  private readonly breaker: CircuitBreakerPolicy;
  private readonly policy: IPolicy;
  private readonly lifetime = new AbortController();
  private readonly listeners: IDisposable[] = [];
  private readonly stats: Target | null;
  private readonly control: Target | null;
  private readonly maxBodyBytes: number;

  constructor(private readonly options: MediaServerClientOptions) {
    const { timeoutMs, retries, breaker } = options;
    if (!(timeoutMs > 0)) throw new RangeError(`timeoutMs must be positive, got ${timeoutMs}`);
    if (!Number.isInteger(retries) || retries < 0) throw new RangeError(`retries must be a non-negative integer, got ${retries}`);
    if (!Number.isInteger(breaker.consecutiveFailures) || breaker.consecutiveFailures < 1) throw new RangeError('breaker.consecutiveFailures must be at least 1');
    if (!(breaker.halfOpenAfterMs >= 0)) throw new RangeError('breaker.halfOpenAfterMs must not be negative');
    this.maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
    this.stats = options.statsUrl ? target(options.statsUrl) : null;
    this.control = options.controlUrl ? target(options.controlUrl) : null;
    if (this.stats && options.kind === 'srs' && !this.stats.url.searchParams.has('count')) this.stats.url.searchParams.set('count', String(LIST_PAGE_SIZE));
    if (this.stats && options.kind === 'mediamtx' && !this.stats.url.searchParams.has('itemsPerPage')) this.stats.url.searchParams.set('itemsPerPage', String(LIST_PAGE_SIZE));

    this.breaker = circuitBreaker(handleAll, { halfOpenAfter: breaker.halfOpenAfterMs, breaker: new ConsecutiveBreaker(breaker.consecutiveFailures) });
    const retryPolicy = retry(handleAll, { maxAttempts: retries, backoff: new ExponentialBackoff({ initialDelay: 50, maxDelay: 500 }) });
    // Aggressive: the attempt is abandoned at the deadline and its signal aborted, which makes fetch
    // destroy the socket even if the server never answers.
    this.policy = wrap(this.breaker, retryPolicy, timeout(timeoutMs, TimeoutStrategy.Aggressive));
    const onStateChange = options.onStateChange;
    if (onStateChange) this.listeners.push(this.breaker.onStateChange((s) => onStateChange(toBreakerState(s))));
  }

  /**
   * cockatiel's view: 'open' stays 'open' after halfOpenAfterMs until the next call, which becomes the
   * trial ('half-open' while it runs, then 'closed' or 'open' again).
   */
  get breakerState(): BreakerState {
    return toBreakerState(this.breaker.state);
  }

  async fetchStats(): Promise<NodeStats> {
    const { kind } = this.options;
    if (kind === 'ome') throw new NotSupportedError(kind, 'fetchStats', 'OvenMediaEngine has no list-all-streams stats endpoint; stats are not supported for ome nodes');
    if (!this.stats) throw new NotSupportedError(kind, 'fetchStats', 'this node has no stats_url');
    const parse = kind === 'nginx-rtmp' ? parseNginxStat : kind === 'srs' ? parseSrsStreams : parseMediamtxPaths;
    return this.call(this.stats, (body) => parse(body));
  }

  /**
   * nginx-rtmp only: drops the publisher of app/name on the worker that answers (keep one worker) and
   * returns how many sessions were dropped. 0 means none was found — or that an earlier attempt of this
   * same call dropped it and its answer was lost before a retry.
   */
  async dropPublisher(app: string, name: string): Promise<number> {
    const { kind } = this.options;
    if (kind !== 'nginx-rtmp') throw new NotSupportedError(kind, 'dropPublisher', `dropping a publisher is not supported for ${kind} nodes`);
    if (!this.control) throw new NotSupportedError(kind, 'dropPublisher', 'this node has no control_url');
    // An empty or missing app/name makes nginx-rtmp drop every publisher of the app (or the server).
    if (!CONTROL_SAFE.test(app) || !CONTROL_SAFE.test(name)) {
      throw new NotSupportedError(kind, 'dropPublisher', 'app and name must be non-empty and use only URL-safe characters: nginx-rtmp does not URL-decode control arguments');
    }
    const url = new URL(this.control.url);
    url.pathname = `${url.pathname.replace(/\/+$/, '')}/drop/publisher`;
    url.search = `?app=${app}&name=${name}`;
    const label = `${url.origin}${url.pathname}`;
    return this.call({ ...this.control, url, label }, (raw) => {
      const body = raw.trim();
      if (!/^\d+$/.test(body)) throw new StatsParseError(`${label}: expected a count of dropped sessions, got ${JSON.stringify(body.slice(0, 100))}`);
      return Number(body);
    });
  }

  /** Aborts calls in flight (their sockets close) and refuses new ones. */
  dispose(): void {
    this.lifetime.abort();
    for (const l of this.listeners.splice(0)) l.dispose();
  }

  /**
   * `read` runs inside the attempt: an unreadable answer (a proxy's error page, a cut-off body) is retried
   * and counts against the breaker like a failed request.
   */
  private async call<T>(t: Target, read: (body: string) => T): Promise<T> {
    if (this.lifetime.signal.aborted) throw new Error('MediaServerClient is disposed');
    try {
      return await this.policy.execute(async ({ signal }) => read(await this.attempt(t, signal)), this.lifetime.signal);
    } catch (err) {
      throw this.describe(err, t);
    }
  }

  private async attempt(t: Target, signal: AbortSignal): Promise<string> {
    // cockatiel re-runs calls queued behind a half-open trial without their signal: check dispose here too.
    if (this.lifetime.signal.aborted) throw new Error('MediaServerClient is disposed');
    let res: Response;
    try {
      res = await fetch(t.url, { headers: t.headers, signal });
    } catch (err) {
      // After an abort the timeout policy has already settled this attempt; nothing reads this error.
      if (signal.aborted) throw err;
      throw new NodeUnreachableError(`${t.label}: ${networkReason(err)}`, { cause: err });
    }
    if (res.status < 200 || res.status > 299) {
      await res.body?.cancel().catch(() => undefined);
      throw new NodeHttpError(res.status, `${t.label}: HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''}`);
    }
    return readCapped(res, this.maxBodyBytes, t.label);
  }

  private describe(err: unknown, t: Target): unknown {
    // Whatever the abort surfaced as (a timeout, fetch's AbortError during a retry), the cause is dispose().
    if (this.lifetime.signal.aborted) return new Error('MediaServerClient was disposed during the call', { cause: err });
    if (err instanceof BrokenCircuitError) {
      const last = this.breaker.lastFailure;
      const cause = last && 'error' in last ? last.error : err;
      return new NodeUnreachableError(`${t.label}: not called, circuit open after ${this.options.breaker.consecutiveFailures} consecutive failures`, { cause, circuitOpen: true });
    }
    if (err instanceof TaskCancelledError) {
      return new NodeUnreachableError(`${t.label}: no complete answer within ${this.options.timeoutMs} ms`, { cause: err });
    }
    return err;
  }
}

function target(raw: string): Target {
  const url = new URL(raw);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new TypeError(`media server URL must be http(s), got ${url.protocol}`);
  const headers: Record<string, string> = {};
  // fetch refuses URLs with credentials; MediaMTX's API commonly needs them.
  if (url.username || url.password) {
    headers.authorization = `Basic ${Buffer.from(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`).toString('base64')}`;
    url.username = '';
    url.password = '';
  }
  return { url, label: `${url.origin}${url.pathname}`, headers };
}

async function readCapped(res: Response, maxBytes: number, label: string): Promise<string> {
  const declared = Number(res.headers.get('content-length') ?? 0);
  if (declared > maxBytes) {
    await res.body?.cancel().catch(() => undefined);
    throw new ResponseTooLargeError(maxBytes, label);
  }
  if (!res.body) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel().catch(() => undefined);
      throw new ResponseTooLargeError(maxBytes, label);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks, total).toString('utf8');
}

function networkReason(err: unknown): string {
  const cause = err instanceof Error ? err.cause : undefined;
  const code = cause instanceof Error && 'code' in cause ? String(cause.code) : undefined;
  if (code) return `connection failed (${code})`;
  return err instanceof Error ? err.message : String(err);
}

function toBreakerState(state: CircuitState): BreakerState {
  if (state === CircuitState.Closed) return 'closed';
  if (state === CircuitState.HalfOpen) return 'half-open';
  return 'open';
}
