import type { TObject } from '@sinclair/typebox';
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';

export const Nonce = { minLength: 1, maxLength: 64 } as const;
/**
 * C0 controls other than tab and line breaks, DEL, and lone surrogates: PostgreSQL text refuses NUL (a
 * 5xx instead of a 4xx), a lone surrogate would be stored as U+FFFD while the Bus carried the original,
 * and none belongs in a chat line or a caption.
 */
export const UNSAFE_TEXT = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** A frame the client got wrong: answered with an `error` frame of code `bad_frame`. */
export class BadFrame extends Error {
  constructor(
    detail: string,
    readonly nonce?: string,
  ) {
    super(detail);
  }
}

/**
 * Compiles one TypeBox schema per inbound frame type and parses text frames against them. The
 * schemas are the documentation's frames; the detail of a refusal names the field.
 */
export function frameParser<T extends Record<string, TObject>>(schemas: T) {
  const checks = new Map<string, TypeCheck<TObject>>(Object.entries(schemas).map(([type, s]) => [type, TypeCompiler.Compile(s)]));
  const known = Object.keys(schemas).join(', ');
  return (text: string): { [K in keyof T]: { type: K } & import('@sinclair/typebox').Static<T[K]> }[keyof T] => {
    let frame: unknown;
    try {
      frame = JSON.parse(text);
    } catch {
      throw new BadFrame('The frame is not JSON.');
    }
    if (typeof frame !== 'object' || frame === null || Array.isArray(frame)) throw new BadFrame('A frame is a JSON object with a "type".');
    const f = frame as Record<string, unknown>;
    const nonce = typeof f.nonce === 'string' && f.nonce.length <= Nonce.maxLength ? f.nonce : undefined;
    const check = typeof f.type === 'string' ? checks.get(f.type) : undefined;
    if (!check) throw new BadFrame(`Unknown frame type ${JSON.stringify(f.type)}; expected one of ${known}.`, nonce);
    if (!check.Check(f)) {
      const e = check.Errors(f).First();
      throw new BadFrame(e ? `${e.path || '/'}: ${e.message}` : 'The frame does not match its type.', nonce);
    }
    for (const [key, value] of Object.entries(f)) {
      if (typeof value === 'string' && UNSAFE_TEXT.test(value)) {
        throw new BadFrame(`/${key}: control characters and unpaired surrogates are not allowed.`, nonce);
      }
    }
    return f as never;
  };
}
