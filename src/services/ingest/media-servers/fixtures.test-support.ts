import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { expect } from 'vitest';
import type { HookDecision, HookRequest, HookResponse, MediaServerAdapter, MediaServerEvent, ParseResult } from '../../../core/ports/media-server.js';

/**
 * Helpers for the adapter tests (not a test file itself: vitest runs `*.test.ts` only). Every adapter
 * keeps its recorded callbacks in `fixtures/<name>.json` next to its test, in this shape; the `body` is
 * the exact bytes as UTF-8 text (OME signs them).
 */
interface Fixture {
  hook: string;
  method: string;
  headers: Record<string, string>;
  query: string;
  body: string;
}

export interface AdapterFixtures {
  /** The named fixture as the request the adapter receives. */
  load(name: string): HookRequest;
  /** The event the adapter reads from the named fixture; throws with the status and reason if it refuses it. */
  parsed(name: string): MediaServerEvent;
}

/** `testFile` is the test's `import.meta.url`; `secret` is the node's hook secret handed to `parse`. */
export function adapterFixtures(testFile: string, adapter: MediaServerAdapter, secret: string): AdapterFixtures {
  const load = (name: string): HookRequest => {
    const f = JSON.parse(readFileSync(new URL(`./fixtures/${name}.json`, testFile), 'utf8')) as Fixture;
    return { hook: f.hook, method: f.method, headers: f.headers, query: f.query, rawBody: Buffer.from(f.body, 'utf8') };
  };
  const parsed = (name: string): MediaServerEvent => {
    const result = adapter.parse(load(name), secret);
    if (!result.ok) throw new Error(`${name}: ${result.status} ${result.reason}`);
    return result.event;
  };
  return { load, parsed };
}

/** The status of a refusal; fails the test if the adapter accepted the request. */
export function status(result: ParseResult): number {
  expect(result.ok).toBe(false);
  return result.ok ? 0 : result.status;
}

/** Every prefix of the generated bodies: what a proxy or a dying server may cut a callback to. */
export function truncations(bodies: fc.Arbitrary<string>): fc.Arbitrary<string> {
  return bodies.chain((s) => fc.nat({ max: s.length }).map((n) => s.slice(0, n)));
}

/** Headers among `names`, each a string or (repeated by the client) a list, as Node hands them over. */
export function headerSets(...names: string[]): fc.Arbitrary<Record<string, string | string[]>> {
  return fc.dictionary(fc.constantFrom(...names), fc.oneof(fc.string(), fc.array(fc.string(), { maxLength: 2 })));
}

/**
 * Callbacks with a JSON body (SRS, MediaMTX): the generated bodies whole or cut short, any JSON, any
 * text or bytes; no headers, or any of Content-Type, Content-Length and another.
 */
export function jsonCallbacks(bodies: fc.Arbitrary<string>, hooks: fc.Arbitrary<string>, methods: fc.Arbitrary<string>): fc.Arbitrary<HookRequest> {
  const raw = fc.oneof(bodies, truncations(bodies), fc.json(), fc.string({ unit: 'binary' }));
  return fc.record({
    hook: hooks,
    method: methods,
    headers: fc.oneof(fc.constant({}), headerSets('content-type', 'content-length', 'x')),
    query: fc.string(),
    rawBody: fc.oneof(raw.map((s) => Buffer.from(s)), fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b))),
  });
}

export interface ParseProperty {
  /** The hook secret handed to `parse`. */
  secret: string;
  /** The statuses `parse` may refuse with. */
  refusals: readonly number[];
  /** Each accepted event is rendered with every one of these. */
  decisions: readonly HookDecision[];
  /** Assertions on every rendered response. */
  rendered(response: HookResponse): void;
}

/** The property each adapter test checks: `parse` never throws, and whatever it accepts renders for every decision. */
export function assertParseNeverThrows<R extends HookRequest>(adapter: MediaServerAdapter, requests: fc.Arbitrary<R>, property: ParseProperty): void {
  fc.assert(
    fc.property(requests, (req) => {
      const result = adapter.parse(req, property.secret);
      if (!result.ok) {
        expect(property.refusals).toContain(result.status);
        return;
      }
      for (const decision of property.decisions) property.rendered(adapter.render(result.event, decision));
    }),
    { numRuns: 2000 },
  );
}
