import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, operator, type TestApp } from '../helpers/app.js';
import { assertNoServerErrors, type Route } from '../helpers/bad-input.js';

/**
 * Generated garbage thrown at the telemetry routes, with and without valid credentials: whatever
 * arrives, the answer is below 500 and every 4xx is a problem document (202 answers are fine).
 */

let t: TestApp;
const fx = { session: '', viewer: '' };
beforeAll(async () => {
  t = await createTestApp();
  fx.session = (await t.app.inject({ method: 'POST', url: '/api/v1/sessions/start', headers: operator(), payload: {} })).json().id;
  const pair = await t.app.inject({ method: 'POST', url: '/api/v1/auth/tokens', headers: operator(), payload: { session_id: fx.session, viewer_id: 'prop', scopes: ['view'] } });
  fx.viewer = pair.json().access_token;
});
afterAll(async () => t?.close());

const ROUTES: Route[] = [
  { label: 'POST /api/v1/telemetry/events (operator key)', method: 'POST', url: () => '/api/v1/telemetry/events', keys: ['events'], goodIds: () => [], auth: 'operator', runs: 200 },
  { label: 'POST /api/v1/telemetry/events (viewer token)', method: 'POST', url: () => '/api/v1/telemetry/events', keys: ['events'], goodIds: () => [], auth: 'viewer', runs: 200 },
  { label: 'GET /api/v1/telemetry/metrics/{session_id}', method: 'GET', url: (id) => `/api/v1/telemetry/metrics/${id}`, keys: ['from', 'to', 'dimension'], goodIds: () => [fx.session], auth: 'operator', runs: 200 },
];

describe('generated bad input never yields a 5xx, and every 4xx is a problem document', () => {
  for (const route of ROUTES) {
    it(route.label, async () => assertNoServerErrors(t, route, { viewer: fx.viewer }));
  }

  it('events with generated field values are rejected one by one, never with a 5xx', async () => {
    const fc = (await import('fast-check')).default;
    const field = fc.oneof(fc.anything({ maxDepth: 2 }), fc.string({ unit: 'binary', maxLength: 40 }), fc.integer(), fc.double(), fc.constantFrom('2026-02-30T00:00:00Z', '9999-12-31T23:59:59Z', '0000-01-01T00:00:00Z', 'playing', 'bitrate_change', fx.session));
    const event = fc.record({ event_id: field, session_id: fc.oneof(fc.constant(fx.session), field), viewer_id: field, view_id: field, type: fc.oneof(fc.constantFrom('view_start', 'playing', 'bitrate_change', 'error', 'heartbeat', 'view_end'), field), ts: fc.oneof(fc.integer({ min: 0, max: 4e12 }), field), data: fc.oneof(fc.dictionary(fc.string({ maxLength: 12 }), field, { maxKeys: 5 }), field) }, { requiredKeys: [] });
    await fc.assert(
      fc.asyncProperty(fc.array(event, { maxLength: 20 }), async (events) => {
        const res = await t.app.inject({ method: 'POST', url: '/api/v1/telemetry/events', headers: operator(), payload: { events } });
        expect(res.statusCode, res.body).toBeLessThan(500);
        if (res.statusCode === 202) {
          const b = res.json();
          expect(b.accepted + b.rejected).toBe(events.length);
        }
      }),
      { numRuns: 200 },
    );
  });
});
