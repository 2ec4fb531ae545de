/**
 * An error the server reported about one request (an `error` frame with its nonce), or a request
 * the SDK had to give up on. `code` is the protocol's stable code (docs/protocol.md), or one of the
 * SDK's own: `disconnected` (the socket closed before the answer: the request may or may not have
 * been applied, and is not resent), `not_connected` (sent while no socket was joined), `timeout`.
 */
export class StreamplaneError extends Error {
  override readonly name = 'StreamplaneError';

  constructor(
    readonly code: string,
    message: string,
    /** When the server says how long to wait before trying again (rate_limited, slow_mode, timed_out). */
    readonly retry_after_ms?: number,
  ) {
    super(message);
  }
}
