import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../helpers/app.js';

describe('CORS', () => {
  let on: TestApp;
  let off: TestApp;
  beforeAll(async () => {
    on = await createTestApp({ env: { STREAMPLANE_CORS_ORIGINS: 'https://player.example.com' } });
    off = await createTestApp();
  });
  afterAll(async () => {
    await on?.close();
    await off?.close();
  });
  const preflight = (t: TestApp, origin: string) =>
    t.app.inject({ method: 'OPTIONS', url: '/api/v1/telemetry/events', headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' } });

  it('answers preflights from allowed origins (bearer tokens, no credentials) and only from them', async () => {
    const ok = await preflight(on, 'https://player.example.com');
    expect(ok.statusCode).toBe(204);
    expect(ok.headers['access-control-allow-origin']).toBe('https://player.example.com');
    expect(String(ok.headers['access-control-allow-headers'])).toContain('authorization');
    expect(ok.headers['access-control-allow-credentials']).toBeUndefined();
    const evil = await preflight(on, 'https://evil.example.com');
    expect(evil.headers['access-control-allow-origin']).toBeUndefined();
    const get = await on.app.inject({ url: '/health', headers: { origin: 'https://player.example.com' } });
    expect(get.headers['access-control-allow-origin']).toBe('https://player.example.com');
    expect(String(get.headers['access-control-expose-headers'])).toContain('x-request-id');
  });

  it('sends no CORS headers unless configured', async () => {
    const res = await off.app.inject({ url: '/health', headers: { origin: 'https://player.example.com' } });
    expect(res.headers['access-control-allow-origin']).toBeUndefined();
    expect((await preflight(off, 'https://player.example.com')).headers['access-control-allow-origin']).toBeUndefined();
  });
});
