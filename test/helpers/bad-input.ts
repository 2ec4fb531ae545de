import fc from 'fast-check';
import { expect } from 'vitest';
import type { TestApp } from './app.js';
import { ADMIN_KEY } from './app.js';

/**
 * Generators of bad requests shared by the property tests of every service: generated garbage thrown
 * at a route, with and without valid credentials; whatever arrives, the answer is below 500 and every
 * 4xx is a problem document.
 */
export type Method = 'GET' | 'POST' | 'DELETE';
export interface Route {
  label: string;
  method: Method;
  /** The url with this (already encoded) path id; routes without one ignore it. */
  url: (id: string) => string;
  /** Field names of the body, to aim wrong values at the right keys. */
  keys: string[];
  /** Path ids that exist, so generated requests also reach past the id check. */
  goodIds: () => string[];
  /** Which credential gets a request past authentication. */
  auth: 'operator' | 'viewer' | 'public';
  runs: number;
}

// ---------------------------------------------------------------------------------------------------
// Generators

const printable = fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 60 });
/** Any characters, with a good share of the awkward ones: NUL, lone surrogates, controls, quotes. */
const anyChars = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 80 }),
  fc
    .array(fc.oneof(fc.constantFrom('\u0000', '\ud800', '\udc00', '\u001f', '\u007f', '\u2028', '\ufeff', '\\', '"', "'", '%', '😀'), fc.string({ maxLength: 3 })), { minLength: 1, maxLength: 12 })
    .map((parts) => parts.join('')),
);
/** Percent-encodes the UTF-8 bytes of `s` (encodeURIComponent throws on lone surrogates). */
const pct = (s: string) => [...Buffer.from(s)].map((b) => (/[A-Za-z0-9_.~-]/.test(String.fromCharCode(b)) ? String.fromCharCode(b) : `%${b.toString(16).padStart(2, '0').toUpperCase()}`)).join('');
const hugeString = fc.integer({ min: 100, max: 70_000 }).map((n) => 'x'.repeat(n));

/** JSON text for a value; `undefined` (no JSON form) means "send no body". */
const jsonText = (v: unknown): string | undefined => {
  try {
    return JSON.stringify(v);
  } catch {
    return undefined;
  }
};

const wrongValue = fc.oneof(
  fc.anything({ maxDepth: 3 }),
  anyChars,
  hugeString,
  fc.constantFrom(null, true, false, 0, -1, 1.5, 1e308, Number.MAX_SAFE_INTEGER, '', ' ', '10', 'null', '[]', '{}', 'ses_', `ses_${'0'.repeat(26)}`),
  fc.constantFrom('__proto__', 'constructor', 'prototype').map((k) => ({ [k]: { polluted: true } })),
);

export function bodies(route: Route): fc.Arbitrary<string | undefined> {
  const keys = route.keys.length > 0 ? route.keys : ['unexpected'];
  const key = fc.constantFrom(...keys, '__proto__', 'constructor', 'prototype', 'unexpected');
  const nested = (depth: number, open: string, close: string, inner = '1') => `${open.repeat(depth)}${inner}${close.repeat(depth)}`;
  return fc.oneof(
    // Anything at all, as JSON.
    fc.anything().map(jsonText),
    fc.json({ maxDepth: 4 }),
    // The right keys with wrong values (weighted up: this is where the handlers are reached).
    { weight: 4, arbitrary: fc.dictionary(fc.constantFrom(...keys), wrongValue, { maxKeys: keys.length }).map(jsonText) },
    { weight: 2, arbitrary: fc.tuple(fc.constantFrom(...keys), fc.oneof(anyChars, fc.dictionary(anyChars, anyChars, { maxKeys: 3 }))).map(([k, v]) => JSON.stringify({ [k]: v })) },
    fc.tuple(key, wrongValue).map(([k, v]) => `{${JSON.stringify(k)}:${jsonText(v) ?? 'null'}}`),
    // Huge strings, right and wrong keys.
    fc.tuple(key, hugeString).map(([k, v]) => JSON.stringify({ [k]: v })),
    // Deep nesting, inside a known key and at the top.
    { weight: 2, arbitrary: fc.tuple(fc.constantFrom(...keys), fc.integer({ min: 1, max: 20_000 })).map(([k, d]) => `{${JSON.stringify(k)}:${nested(d, '[', ']')}}`) },
    fc.tuple(key, fc.integer({ min: 1, max: 5_000 })).map(([k, d]) => `{${JSON.stringify(k)}:${nested(d, '{"a":', '}')}}`),
    fc.integer({ min: 1, max: 20_000 }).map((d) => nested(d, '[', ']', '')),
    // Prototype pollution, top level and nested (JSON text: object literals would not keep __proto__ as a key).
    fc.tuple(fc.constantFrom('__proto__', 'constructor'), key, fc.json({ maxDepth: 2 })).map(([p, k, v]) =>
      p === '__proto__' ? `{"__proto__":{"isAdmin":true},${JSON.stringify(k)}:${v}}` : `{${JSON.stringify(k)}:{"constructor":{"prototype":{"isAdmin":${v}}}}}`,
    ),
    // Not JSON at all.
    anyChars,
    fc.constant(undefined),
  );
}

export const contentType = fc.oneof(
  { weight: 6, arbitrary: fc.constant('application/json') },
  { weight: 4, arbitrary: fc.constantFrom('application/json; charset=utf-8', 'APPLICATION/JSON', 'application/problem+json', 'application/json; charset=utf-16', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/xml', 'application/octet-stream', '', ';', '*/*') },
  { weight: 1, arbitrary: printable },
  { weight: 1, arbitrary: fc.constant(undefined) },
);

/** 'good' is the credential the route needs; the rest are missing, wrong or for the other kind of route. */
export const authorization = fc.oneof(
  { weight: 4, arbitrary: fc.constant('good') },
  { weight: 1, arbitrary: fc.constant(undefined) },
  { weight: 2, arbitrary: fc.constantFrom(`Bearer ${ADMIN_KEY}`, 'viewer', 'refresh', `Bearer ${ADMIN_KEY}x`, 'Bearer', `Basic ${ADMIN_KEY}`, `bearer ${ADMIN_KEY}`) },
  { weight: 1, arbitrary: printable.map((s) => `Bearer ${s}`) },
  { weight: 1, arbitrary: printable },
);

export function pathIds(route: Route): fc.Arbitrary<string> {
  const good = route.goodIds();
  return fc.oneof(
    ...(good.length > 0 ? [{ weight: 4, arbitrary: fc.constantFrom(...good) }] : []),
    { weight: 1, arbitrary: fc.constantFrom('nope', '..', '%2e%2e', '..%2F..%2Fetc%2Fpasswd', '%E0%A4%A', '%', '%00', `ses_${'0'.repeat(26)}`, `ses_${'a'.repeat(300)}`, `nd_${'0'.repeat(26)}`, `ing_${'0'.repeat(26)}`) },
    { weight: 1, arbitrary: anyChars.filter((s) => s.length > 0).map(pct) },
    { weight: 1, arbitrary: fc.stringMatching(/^(ses|nd|ing)_[0-9a-z]{20,30}$/) },
    { weight: 1, arbitrary: fc.stringMatching(/^[0-9a-z]{20,30}$/) },
  );
}

const dateTime = fc.oneof(
  fc.date({ min: new Date('0000-01-01T00:00:00Z'), max: new Date('9999-12-31T23:59:59Z'), noInvalidDate: true }).map((d) => d.toISOString()),
  fc.constantFrom('2026-12-31T23:59:60Z', '0000-01-01T00:00:00Z', '9999-12-31T23:59:59Z', '2026-02-30T00:00:00Z', '2026-01-01T00:00:00+14:00', 'yesterday'),
);

/** Query strings: for routes that read one, its own parameters with wrong values; elsewhere noise. */
export function queries(route: Route): fc.Arbitrary<string> {
  const noise = fc.option(printable, { nil: undefined }).map((q) => (q === undefined ? '' : `?${pct(q)}`));
  if (route.method !== 'GET' || route.keys.length === 0) return noise;
  const value = fc.oneof(printable, anyChars, dateTime, fc.integer().map(String), fc.constantFrom('created', 'live', 'ended', '1', '100', '101', '0', '-1', '1.5'));
  return fc.oneof(
    noise,
    { weight: 4, arbitrary: fc.dictionary(fc.constantFrom(...route.keys, 'unexpected', '__proto__'), value, { maxKeys: 4 }).map((d) => `?${new URLSearchParams(d)}`) },
  );
}


/** Credentials a generated request may carry, by name, for the routes' `auth` kinds. */
export interface Credentials { viewer?: string; refresh?: string }

/** Runs the property for one route: generated requests never get a 5xx; every 4xx is a problem document. */
export async function assertNoServerErrors(t: TestApp, route: Route, creds: Credentials = {}) {
  await fc.assert(
    fc.asyncProperty(pathIds(route), bodies(route), contentType, authorization, queries(route), async (id, body, ct, auth, qs) => {
      const headers: Record<string, string> = {};
      if (ct !== undefined && body !== undefined) headers['content-type'] = ct;
      const credential = auth === 'good' ? (route.auth === 'operator' ? `Bearer ${ADMIN_KEY}` : route.auth === 'viewer' ? 'viewer' : undefined) : auth;
      if (credential === 'viewer') headers.authorization = `Bearer ${creds.viewer ?? 'none'}`;
      else if (credential === 'refresh') headers.authorization = `Bearer ${creds.refresh ?? 'none'}`;
      else if (credential !== undefined) headers.authorization = credential;
      const res = await t.app.inject({ method: route.method, url: route.url(id) + qs, headers, ...(body === undefined ? {} : { payload: body }) });
      const context = `${route.method} ${route.url(id)}${qs} ct=${JSON.stringify(ct)} auth=${JSON.stringify(auth?.slice(0, 40))} body=${JSON.stringify(body?.slice(0, 200))} → ${res.statusCode} ${res.headers['content-type']} ${res.body.slice(0, 300)}`;
      expect(res.statusCode, context).toBeLessThan(500);
      if (res.statusCode >= 400) {
        expect(String(res.headers['content-type']), context).toMatch(/^application\/problem\+json/);
        const p = res.json();
        expect(p, context).toMatchObject({ type: expect.any(String), title: expect.any(String), status: res.statusCode, code: expect.any(String), detail: expect.any(String) });
      }
    }),
    { numRuns: route.runs },
  );
}
