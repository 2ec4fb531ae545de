import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { renderVtt, vttPayload, vttTimestamp } from './captions.vtt.js';

describe('WebVTT rendering', () => {
  it('writes timestamps with hours and milliseconds', () => {
    expect(vttTimestamp(0)).toBe('00:00:00.000');
    expect(vttTimestamp(61_005)).toBe('00:01:01.005');
    expect(vttTimestamp(3_725_042)).toBe('01:02:05.042');
    expect(vttTimestamp(86_400_000)).toBe('24:00:00.000');
  });

  it('escapes markup and keeps line breaks without blank lines', () => {
    expect(vttPayload('a < b && c > d')).toBe('a &lt; b &amp;&amp; c &gt; d');
    expect(vttPayload('x --> y')).toBe('x --&gt; y');
    expect(vttPayload('one\r\n\r\ntwo\r  \rthree  \n')).toBe('one\ntwo\nthree');
  });

  it('never lets cue text end a cue or pose as a timing line, whatever the text', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom('-', '>', '<', '&', '\n', '\r', ' ', 'a') }), (text) => {
        const p = vttPayload(text);
        expect(p).not.toContain('-->');
        expect(p).not.toMatch(/\n\s*\n|\r/);
        expect(p).not.toMatch(/[<>]|&(?!amp;|lt;|gt;)/);
      }),
    );
  });

  it('orders cues by start, then seq, and numbers them by seq', () => {
    const vtt = renderVtt([
      { seq: 3, start_ms: 2000, end_ms: 3000, text: 'c' },
      { seq: 2, start_ms: 1000, end_ms: 1500, text: 'b' },
      { seq: 1, start_ms: 1000, end_ms: 2000, text: 'a' },
    ]);
    expect(vtt).toBe('WEBVTT\n\n1\n00:00:01.000 --> 00:00:02.000\na\n\n2\n00:00:01.000 --> 00:00:01.500\nb\n\n3\n00:00:02.000 --> 00:00:03.000\nc\n');
  });
});
