import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { plainTokenBody } from '../../src/services/session/tokens/token.routes.js';

// validate-token's fast path reads `{"token":"…"}` without JSON.parse: it must never read a body
// differently from JSON.parse (the Fastify route's parser), only decline more often.
describe('plainTokenBody', () => {
  const jws = fc.stringMatching(/^[A-Za-z0-9_-]{1,200}\.[A-Za-z0-9_-]{1,400}\.[A-Za-z0-9_-]{1,100}$/);

  it('reads what SDKs send: JSON.stringify({ token })', () => {
    fc.assert(fc.property(jws, (token) => {
      expect(plainTokenBody(Buffer.from(JSON.stringify({ token })))).toEqual({ token });
    }));
  });

  it('never disagrees with JSON.parse on any body', () => {
    const bodies = fc.oneof(
      fc.string({ unit: 'binary' }).map((s) => `{"token":"${s}"}`),
      fc.string({ unit: 'binary' }).map((s) => JSON.stringify({ token: s })),
      fc.json(),
      fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.concat([Buffer.from('{"token":"'), b, Buffer.from('"}')]).toString('latin1')),
      jws.map((t) => `{"token": "${t}"}`),
      jws.map((t) => `{"token":"${t}","x":1}`),
    );
    fc.assert(fc.property(bodies, (text) => {
      const body = Buffer.from(text, 'utf8');
      const ours = plainTokenBody(body);
      if (ours === undefined) return;
      expect(ours).toEqual(JSON.parse(body.toString('utf8')));
    }), { numRuns: 2000 });
  });

  it('declines escapes, non-ASCII, controls, other keys, spacing and empty or huge tokens', () => {
    for (const text of [
      '{"token":"a\\u002eb"}', '{"token":"é.b.c"}', '{"token":"a\tb"}', '{"token":""}', '{"tok":"a.b.c"}',
      '{ "token":"a.b.c"}', '{"token":"a.b.c"} ', '{"token":"a.b.c","token":"d.e.f"}', `{"token":"${'a'.repeat(4097)}"}`, '{"token":"a"b"}',
    ]) expect(plainTokenBody(Buffer.from(text)), text).toBeUndefined();
  });
});
