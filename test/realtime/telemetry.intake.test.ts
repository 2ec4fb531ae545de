import { describe, expect, it } from 'vitest';
import { takeBatch, type Intake } from '../../src/services/realtime/telemetry/telemetry.intake.js';
import type { ValidEvent } from '../../src/services/realtime/telemetry/telemetry.validator.js';
import { CODE } from '../../src/services/realtime/telemetry/telemetry.views.js';
import { WrittenViews } from '../../src/services/realtime/telemetry/telemetry.written.js';

/**
 * The per-batch intake and the remembered written views on their own (the route's behaviour through
 * HTTP is in telemetry.test.ts): one reused object per batch must never leak one event's fields into
 * another, sessions the cache does not know wait for the database without reordering the answer, and
 * a view is found only by its exact session, viewer and view.
 */

const NOW = Date.UTC(2026, 4, 1, 12);
const S1 = 'ses_0000000000000000000000000a';
const S2 = 'ses_0000000000000000000000000b';
const S3 = 'ses_0000000000000000000000000c';
const S4 = 'ses_0000000000000000000000000d';
const limits = { maxEventBytes: 4096, maxAgeMs: 86_400_000, maxFutureMs: 300_000 };
const ev = (event_id: string, session_id: string, over: Record<string, unknown> = {}) => ({ event_id, session_id, viewer_id: 'v', view_id: 'w', type: 'playing', ts: NOW - 1_000, ...over });

function intake(cached: Record<string, boolean>, stored: Record<string, boolean> = {}, known: (e: ValidEvent) => boolean = () => false) {
  const taken: ValidEvent[] = [];
  const asked: string[][] = [];
  const counted: string[] = [];
  const ctx: Intake = {
    now: NOW,
    limits,
    viewer: undefined,
    sessions: {
      cachedOne: (id) => cached[id],
      existing: async (ids) => {
        asked.push([...ids]);
        return new Set([...ids].filter((id) => stored[id]));
      },
    },
    buffer: { known, insert: (events) => void taken.push(...events) },
    count: (r) => void counted.push(r),
  };
  return { ctx, taken, asked, counted };
}

describe('takeBatch', () => {
  it('copies each event it keeps out of the object it checks into', () => {
    const { ctx, taken } = intake({ [S1]: true });
    const res = takeBatch([ev('a', S1, { type: 'view_start', data: { device: 'tv' } }), ev('b', S1, { viewer_id: 'x', view_id: 'y', ts: NOW - 2_000 }), ev('c', S1, { type: 'heartbeat' })], ctx);
    expect(res).toEqual({ accepted: 3, rejected: 0, duplicates: 0, errors: [] });
    expect(taken.map((e) => [e.eventId, e.viewerId, e.viewId, e.type, e.ts, e.state])).toEqual([
      ['a', 'v', 'w', 'view_start', NOW - 1_000, [NOW - 1_000, CODE.view_start, 'a', { device: 'tv' }]],
      ['b', 'x', 'y', 'playing', NOW - 2_000, [NOW - 2_000, CODE.playing, 'b']],
      ['c', 'v', 'w', 'heartbeat', NOW - 1_000, null],
    ]);
  });

  it('counts an event_id twice in a session as a duplicate, but not the same id in another session', () => {
    const { ctx, taken } = intake({ [S1]: true, [S2]: true });
    const res = takeBatch([ev('a', S1), ev('a', S2), ev('a', S1), ev('b', S1)], ctx);
    expect(res).toEqual({ accepted: 4, rejected: 0, duplicates: 1, errors: [] });
    expect(taken.map((e) => [e.eventId, e.sessionId])).toEqual([['a', S1], ['a', S2], ['b', S1]]);
  });

  it('does not buffer what the buffer already wrote, but still accepts it', () => {
    const { ctx, taken } = intake({ [S1]: true }, {}, (e) => e.eventId === 'old');
    expect(takeBatch([ev('old', S1), ev('new', S1)], ctx)).toEqual({ accepted: 2, rejected: 0, duplicates: 0, errors: [] });
    expect(taken.map((e) => e.eventId)).toEqual(['new']);
  });

  it('asks the database only about sessions the cache does not know, and keeps rejections in index order', async () => {
    const { ctx, taken, asked, counted } = intake({ [S1]: true, [S3]: false }, { [S2]: true });
    const batch = [ev('a', S2), { bad: true }, ev('b', S1), ev('c', S3), ev('d', S2), ev('a', S2), ev('e', S4), ev('f', S1, { type: 'nope' })];
    const res = takeBatch(batch, ctx);
    expect(res).toBeInstanceOf(Promise);
    expect(await res).toEqual({
      accepted: 4,
      rejected: 4,
      duplicates: 1,
      errors: [
        { index: 1, reason: 'invalid_event', detail: expect.any(String) },
        { index: 3, reason: 'unknown_session', detail: `session ${S3} does not exist` },
        { index: 6, reason: 'unknown_session', detail: `session ${S4} does not exist` },
        { index: 7, reason: 'invalid_type', detail: expect.any(String) },
      ],
    });
    expect(asked).toEqual([[S2, S4]]);
    expect(taken.map((e) => e.eventId).sort()).toEqual(['a', 'b', 'd']);
    expect(counted.sort()).toEqual(['invalid_event', 'invalid_type', 'unknown_session', 'unknown_session']);
  });

  it("rejects a viewer token's events for another session or viewer", () => {
    const { ctx } = intake({ [S1]: true, [S2]: true });
    ctx.viewer = { sid: S1, sub: 'v' };
    const res = takeBatch([ev('a', S1), ev('b', S2), ev('c', S1, { viewer_id: 'x' })], ctx);
    expect(res).toMatchObject({ accepted: 1, rejected: 2, errors: [{ index: 1, reason: 'forbidden_session' }, { index: 2, reason: 'forbidden_viewer' }] });
  });
});

describe('WrittenViews', () => {
  const view = (session_id: string, viewer_id: string, view_id: string, ids: string[] = [], first = 1, last = 2) => ({
    session_id, viewer_id, view_id, events: ids.map((id, i): [number, number, string] => [first + i, CODE.playing, id]), first_event_at: first, last_event_at: last,
  });

  it('finds a view only by its exact session, viewer and view, with or without a view_id', () => {
    const w = new WrittenViews(100);
    w.remember(view(S1, 'alice', '1', ['e1']));
    w.remember(view(S1, 'bob', '1', ['e2']));
    w.remember(view(S1, '1', '', ['e3']));
    w.remember(view(S2, 'alice', '1', ['e4']));
    expect(w.get(S1, 'alice', '1')?.ids).toEqual(new Set(['e1']));
    expect(w.get(S1, 'bob', '1')?.ids).toEqual(new Set(['e2']));
    expect(w.get(S1, '1', '')?.ids).toEqual(new Set(['e3']));
    expect(w.get(S2, 'alice', '1')?.ids).toEqual(new Set(['e4']));
    expect(w.get(S1, 'carol', '1')).toBeUndefined();
    expect(w.get(S1, 'alice', '')).toBeUndefined();
    expect(w.get(S3, 'alice', '1')).toBeUndefined();
  });

  it('keeps what the last write said, and forgets the view written longest ago past its bound', () => {
    const w = new WrittenViews(3);
    for (const v of ['a', 'b', 'c']) w.remember(view(S1, 'u', v, [v], 10, 20));
    w.remember(view(S1, 'u', 'a', ['a', 'a2'], 5, 30)); // rewritten: now the most recent
    w.remember(view(S1, 'u', 'd', ['d']));
    expect(w.size).toBe(3);
    expect(w.get(S1, 'u', 'b')).toBeUndefined();
    expect(w.get(S1, 'u', 'a')).toMatchObject({ ids: new Set(['a', 'a2']), first: 5, last: 30 });
    expect(w.get(S1, 'u', 'c')).toBeDefined();
    expect(w.get(S1, 'u', 'd')).toBeDefined();
  });

  it('bounds the views chained behind one view_id', () => {
    const w = new WrittenViews(100);
    for (let i = 0; i < 20; i++) w.remember(view(S1, `viewer-${i}`, 'main'));
    // Only the first eight are remembered: a longer chain would be walked for every event.
    expect(w.size).toBe(8);
    for (let i = 0; i < 20; i++) expect(Boolean(w.get(S1, `viewer-${i}`, 'main'))).toBe(i < 8);
  });

  it('forgets a view in the middle of a chain', () => {
    // x, y, z chain behind one key (z first); x rewritten, so y is the oldest write and the middle of the chain.
    const w = new WrittenViews(3);
    for (const v of ['x', 'y', 'z']) w.remember(view(S1, v, 'main'));
    w.remember(view(S1, 'x', 'main', ['again']));
    w.remember(view(S1, 'u', 'other'));
    expect(w.get(S1, 'y', 'main')).toBeUndefined();
    expect(w.get(S1, 'x', 'main')?.ids).toEqual(new Set(['again']));
    expect(w.get(S1, 'z', 'main')).toBeDefined();
    w.remember(view(S1, 'u', 'other2'));
    expect(w.get(S1, 'z', 'main')).toBeUndefined();
    expect(w.get(S1, 'x', 'main')).toBeDefined();
    expect(w.size).toBe(3);
  });
});
