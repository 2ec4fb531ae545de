import type { Registry } from 'prom-client';
import { hotCounter } from '../../../http/metrics.js';
import { AppError, badRequest, forbidden } from '../../../core/errors.js';
import type { Clock } from '../../../core/ports/index.js';
import type { ViewerClaims } from '../../../http/viewer-auth/viewer-token.verifier.js';
import { takeBatch, type Intake } from './telemetry.intake.js';
import { REJECTION_REASONS, type BatchResult, type RejectionReason } from './telemetry.schemas.js';
import type { EventLimits } from './telemetry.validator.js';

type Outcome = 'accepted' | 'duplicate' | 'backlog' | 'dropped_view_full' | RejectionReason;
const OUTCOMES: readonly Outcome[] = ['accepted', 'duplicate', 'backlog', 'dropped_view_full', ...REJECTION_REASONS];
/** A counter per outcome: adds to a plain number, read by /metrics at scrape time (http/metrics.ts `hotCounter`). */
export type OutcomeTally = Record<Outcome, { inc(n?: number): void }>;

/** `streamplane_telemetry_events_total`, one hot counter child per outcome, made once. */
export function outcomeTally(registry: Registry): OutcomeTally {
  const counter = hotCounter({
    name: 'streamplane_telemetry_events_total',
    help: 'Telemetry events received, by outcome (accepted, duplicate, backlog, dropped_view_full or the rejection reason).',
    labelNames: ['outcome'] as const,
    registers: [registry],
  });
  return Object.fromEntries(OUTCOMES.map((o) => [o, counter.child({ outcome: o })])) as OutcomeTally;
}

/** Why a batch is not taken, found before anything changed: what the route answers instead of 202. */
export type BatchRefusal =
  | { kind: 'invalid_batch' | 'batch_too_large' | 'insufficient_scope'; detail: string }
  | { kind: 'backlog'; events: number };

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export interface TelemetryBatchesOptions {
  clock: Clock;
  limits: EventLimits;
  maxBatchEvents: number;
  /** Said to a batch refused for want of room (Retry-After): the buffer is written this often. */
  flushMs: number;
  sessions: Intake['sessions'];
  buffer: Intake['buffer'] & { hasRoomFor(n: number): boolean };
  tally: OutcomeTally;
}

/**
 * What `POST /api/v1/telemetry/events` does with a body once its caller is known, shared by the
 * Fastify route and its fast answer (telemetry.routes.ts): every check that can refuse the batch
 * comes first and changes nothing (`events`, then `admit`), so that the fast answer can hand a refused
 * batch to the route untouched; then `take` buffers what is new and counts the outcomes.
 */
export class TelemetryBatches {
  private readonly countRejection: (reason: RejectionReason) => void;

  constructor(private readonly o: TelemetryBatchesOptions) {
    this.countRejection = (reason) => o.tally[reason].inc();
  }

  /** The batch's events, or why the body is not a batch this instance takes. */
  events(body: unknown): unknown[] | BatchRefusal {
    if (!isPlainObject(body) || !Array.isArray(body.events)) return { kind: 'invalid_batch', detail: 'The body must be a JSON object {"events": [ … ]}.' };
    for (const k in body) if (k !== 'events') return { kind: 'invalid_batch', detail: `Unknown field ${JSON.stringify(k.slice(0, 70))}: the body is {"events": [ … ]}.` };
    const raw = body.events as unknown[];
    const max = this.o.maxBatchEvents;
    if (raw.length > max) return { kind: 'batch_too_large', detail: `A batch holds at most ${max} events; this one has ${raw.length}. Split it.` };
    return raw;
  }

  /** Why this caller's batch cannot be taken now (scope, room in the buffer), or null. */
  admit(events: unknown[], viewer: ViewerClaims | undefined): BatchRefusal | null {
    if (viewer && !viewer.scope.split(' ').includes('view')) return { kind: 'insufficient_scope', detail: 'Telemetry needs a viewer token with the view scope.' };
    if (!this.o.buffer.hasRoomFor(events.length)) return { kind: 'backlog', events: events.length };
    return null;
  }

  /** Takes an admitted batch: the 202 answer, now or once the database has said which sessions exist. */
  take(events: unknown[], viewer: ViewerClaims | undefined): BatchResult | Promise<BatchResult> {
    const { clock, limits, sessions, buffer } = this.o;
    const taken = takeBatch(events, { now: clock.now(), limits, viewer, sessions, buffer, count: this.countRejection });
    return taken instanceof Promise ? taken.then(this.counted) : this.counted(taken);
  }

  /** The route's answer to a refusal: the problem to throw (a backlog is counted and says when to retry). */
  refusal(r: BatchRefusal, retryAfter: (seconds: string) => void): AppError {
    switch (r.kind) {
      case 'invalid_batch':
        return badRequest('invalid_batch', r.detail);
      case 'batch_too_large':
        return new AppError(413, 'batch_too_large', r.detail, { max_batch_events: this.o.maxBatchEvents });
      case 'insufficient_scope':
        return forbidden('insufficient_scope', r.detail);
      case 'backlog':
        this.o.tally.backlog.inc(r.events);
        retryAfter(String(Math.ceil(this.o.flushMs / 1000)));
        return new AppError(503, 'telemetry_backlog', 'This instance has more telemetry waiting to be written than it buffers; retry the same batch shortly.');
    }
  }

  private readonly counted = (result: BatchResult): BatchResult => {
    this.o.tally.accepted.inc(result.accepted - result.duplicates);
    this.o.tally.duplicate.inc(result.duplicates);
    return result;
  };
}
