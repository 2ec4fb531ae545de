import { describe, expect, it } from 'vitest';
import * as ws from 'ws';
import { textFrame } from './wire.js';

/** Reads frames back with ws's own parser (as a client would: server frames unmasked). */
function parse(frame: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    // ws's Receiver is exported at runtime but not in @types/ws.
    const { Receiver } = ws as unknown as { Receiver: new (o: object) => import('node:stream').Writable };
    const r = new Receiver({ isServer: false, maxPayload: 0 });
    r.on('message', (data: Buffer, isBinary: boolean) => (isBinary ? reject(new Error('binary')) : resolve(data.toString('utf8'))));
    r.on('error', reject);
    r.write(frame);
  });
}

describe('textFrame', () => {
  it.each([0, 1, 125, 126, 127, 65_535, 65_536, 200_000])('frames %i bytes of text that ws reads back', async (n) => {
    const text = 'x'.repeat(n);
    expect(await parse(textFrame(text))).toBe(text);
  });

  it('counts bytes, not characters, in the length', async () => {
    const text = '😀é'.repeat(50);
    const f = textFrame(text);
    expect(f[1]).toBe(126);
    expect(f.readUInt16BE(2)).toBe(Buffer.byteLength(text));
    expect(await parse(f)).toBe(text);
  });
});
