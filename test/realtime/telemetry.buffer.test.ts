import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/core/ports/index.js';
import { BUFFER_MAX_ENTRIES, TelemetryBuffer, bufferMetrics } from '../../src/services/realtime/telemetry/telemetry.buffer.js';
import type { ValidEvent } from '../../src/services/realtime/telemetry/telemetry.validator.js';
import { CODE } from '../../src/services/realtime/telemetry/telemetry.views.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { ManualClock } from '../helpers/manual-clock.js';

/** The write-behind buffer on its own: bounded, and a failed write keeps its events for the next one. */

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => t?.close());

const quiet = { warn() {}, error() {}, info() {} } as never;
const SESSION = 'ses_00000000000000000000000000';

function events(n: number, from = 0): ValidEvent[] {
  return Array.from({ length: n }, (_, i) => ({
    eventId: `e${from + i}`, sessionId: SESSION, viewerId: `viewer-${from + i}`, viewId: '', type: 'view_start', ts: 1_777_000_000_000 + i,
    state: [1_777_000_000_000 + i, CODE.view_start, `e${from + i}`],
  }));
}

describe('TelemetryBuffer', () => {
  it('keeps the events of a failed write, retries them, and never holds more than its bound', async () => {
    let down = true;
    const real = t.backends.database;
    const db = { ...real, kind: real.kind, query: real.query.bind(real), transaction: (fn: Parameters<Database['transaction']>[0]) => (down ? Promise.reject(new Error('database down')) : real.transaction(fn)) } as Database;
    const buffer = new TelemetryBuffer(db, new ManualClock(), quiet, bufferMetrics(new Registry(), { inc() {} }));

    buffer.add(events(1_000));
    expect(buffer.entries).toBe(2_000); // a view and its view_start each
    await buffer.flush();
    expect(buffer.entries).toBe(2_000);

    // Filling up while the database is down: the bound refuses more instead of growing.
    const per = 5_000;
    let n = 1_000;
    while (buffer.hasRoomFor(per)) {
      buffer.add(events(per, n));
      n += per;
    }
    expect(buffer.entries).toBeLessThanOrEqual(BUFFER_MAX_ENTRIES);
    expect(buffer.hasRoomFor(per)).toBe(false);
    await buffer.flush();
    expect(buffer.entries).toBe(2 * n);

    down = false;
    while (buffer.entries > 0) await buffer.flush();
    const stored = await real.query<{ n: number }>('SELECT count(*)::int AS n FROM telemetry_views WHERE session_id = $1', [SESSION]);
    expect(stored.rows[0]!.n).toBe(n);
    expect(buffer.hasRoomFor(per)).toBe(true);
    await buffer.close();
    expect(buffer.hasRoomFor(1)).toBe(false);
  }, 60_000);

  it('drops a resend of what it already wrote before buffering it, but never something new', async () => {
    const buffer = new TelemetryBuffer(t.backends.database, new ManualClock(), quiet, bufferMetrics(new Registry(), { inc() {} }));
    const SID = 'ses_00000000000000000000000001';
    const batch = events(10, 50_000).map((e) => ({ ...e, sessionId: SID }));
    buffer.add(batch);
    await buffer.flush();
    expect(buffer.entries).toBe(0);
    buffer.add(batch);
    expect(buffer.entries).toBe(0);
    // a heartbeat inside a written view's span changes nothing; one after it moves the view's end
    const hb = (ts: number): ValidEvent => ({ ...batch[0]!, eventId: `hb${ts}`, type: 'heartbeat', ts, state: null });
    buffer.add([hb(batch[0]!.ts)]);
    expect(buffer.entries).toBe(0);
    buffer.add([hb(batch[0]!.ts + 10_000)]);
    expect(buffer.entries).toBe(1);
    const fresh = events(1, 60_000).map((e) => ({ ...e, sessionId: SID, viewerId: batch[1]!.viewerId }));
    buffer.add(fresh);
    expect(buffer.entries).toBe(3);
    await buffer.close();
  });
});
