import { Type } from '@sinclair/typebox';
import { frameParser, Nonce } from '../hub/frames.js';

/** Media time is bounded to a day: longer sessions are not a captioning use case, and it keeps cues in an int column. */
export const MAX_MEDIA_MS = 86_400_000;
/**
 * A BCP 47 tag's shape (`en`, `pt-BR`, `zh-Hant-TW`, `es-419`): a 2–3 letter language, then subtags.
 * Not a registry lookup on purpose: tags are passed through to players, which know their languages.
 */
export const LANG_PATTERN = '^[a-zA-Z]{2,3}(-[a-zA-Z0-9]{2,8})*$';
export const LANG_MAX = 35;
export const Lang = Type.String({ minLength: 2, maxLength: LANG_MAX, pattern: LANG_PATTERN, description: 'BCP 47 language tag', examples: ['en', 'pt-BR'] });

const MediaMs = Type.Integer({ minimum: 0, maximum: MAX_MEDIA_MS });

/** Client → server caption frames (docs/protocol.md). Extra properties are refused: a typo is an error, not silence. */
export const CaptionFrames = {
  // maxLength here only bounds the work; the configured limit counts characters (code points), and
  // start < end is checked by the service (a schema cannot compare two fields).
  cue: Type.Object(
    { type: Type.Literal('cue'), start_ms: MediaMs, end_ms: MediaMs, text: Type.String({ maxLength: 40_000 }), lang: Lang, nonce: Type.String(Nonce) },
    { additionalProperties: false },
  ),
  ping: Type.Object({ type: Type.Literal('ping'), nonce: Type.Optional(Type.String(Nonce)) }, { additionalProperties: false }),
};

export const parseCaptionFrame = frameParser(CaptionFrames);
export type CaptionFrame = ReturnType<typeof parseCaptionFrame>;
