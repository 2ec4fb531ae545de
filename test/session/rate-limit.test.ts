import { afterAll, beforeAll, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { ManualClock } from '../helpers/manual-clock.js';

let t: TestApp;
const clock = new ManualClock();
beforeAll(async () => {
  t = await createTestApp({ clock, env: { STREAMPLANE_VALIDATE_RATE_LIMIT_PER_MINUTE: '5' } });
});
afterAll(async () => t?.close());

it('rate-limits validate-token per client with a 429 problem, per route, and the window resets', async () => {
  const validate = () => t.app.inject({ method: 'POST', url: '/api/v1/auth/validate-token', payload: { token: 'x' }, remoteAddress: '198.51.100.7' });
  for (let i = 0; i < 5; i++) expect((await validate()).statusCode).toBe(200);
  const limited = await validate();
  expect(limited.statusCode).toBe(429);
  expect(limited.headers['content-type']).toContain('application/problem+json');
  expect(limited.json().code).toBe('rate_limited');
  expect(limited.headers['retry-after']).toBeDefined();
  // Another client, and another route, have their own counters.
  expect((await t.app.inject({ method: 'POST', url: '/api/v1/auth/validate-token', payload: { token: 'x' }, remoteAddress: '198.51.100.8' })).statusCode).toBe(200);
  expect((await t.app.inject({ method: 'POST', url: '/api/v1/auth/refresh-token', payload: { refresh_token: 'x' }, remoteAddress: '198.51.100.7' })).statusCode).toBe(401);
  await clock.advance(60_001);
  expect((await validate()).statusCode).toBe(200);
});
