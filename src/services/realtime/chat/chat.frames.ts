import { Type } from '@sinclair/typebox';
import { frameParser, Nonce } from '../hub/frames.js';

const UserId = Type.String({ minLength: 1, maxLength: 128 });
const MessageId = Type.String({ minLength: 1, maxLength: 64 });
const Reason = Type.Optional(Type.String({ maxLength: 200 }));
const N = Type.Optional(Type.String(Nonce));
/** Longest timeout: two weeks (Twitch allows the same). */
export const MAX_TIMEOUT_SECONDS = 1_209_600;
export const MAX_SLOW_MODE_SECONDS = 86_400;

/** Client → server chat frames (docs/protocol.md). Extra properties are refused: a typo is an error, not silence. */
export const ChatFrames = {
  // maxLength here only bounds the work; the configured limit counts characters (code points).
  send: Type.Object({ type: Type.Literal('send'), text: Type.String({ maxLength: 40_000 }), nonce: Type.String(Nonce) }, { additionalProperties: false }),
  delete: Type.Object({ type: Type.Literal('delete'), id: MessageId, nonce: N }, { additionalProperties: false }),
  timeout: Type.Object({ type: Type.Literal('timeout'), user_id: UserId, seconds: Type.Integer({ minimum: 1, maximum: MAX_TIMEOUT_SECONDS }), reason: Reason, nonce: N }, { additionalProperties: false }),
  ban: Type.Object({ type: Type.Literal('ban'), user_id: UserId, shadow: Type.Optional(Type.Boolean()), reason: Reason, nonce: N }, { additionalProperties: false }),
  unban: Type.Object({ type: Type.Literal('unban'), user_id: UserId, nonce: N }, { additionalProperties: false }),
  slow_mode: Type.Object({ type: Type.Literal('slow_mode'), seconds: Type.Integer({ minimum: 0, maximum: MAX_SLOW_MODE_SECONDS }), nonce: N }, { additionalProperties: false }),
  ping: Type.Object({ type: Type.Literal('ping'), nonce: N }, { additionalProperties: false }),
};

export const parseChatFrame = frameParser(ChatFrames);
export type ChatFrame = ReturnType<typeof parseChatFrame>;
