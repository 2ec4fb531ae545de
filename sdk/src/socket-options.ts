import type { BackoffOptions, Timers } from './backoff.js';

/**
 * The part of a WebSocket the SDK uses: the browser's `WebSocket`, or `ws`'s in Node (< 22 has none).
 * Handlers take `any` because the browser's and ws's event classes differ in details the SDK never
 * reads (it reads `data`, `code`, `reason` and an error's `message`).
 */
export interface WebSocketLike {
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: any) => void) | null;
  onmessage: ((ev: any) => void) | null;
  onerror: ((ev: any) => void) | null;
  onclose: ((ev: any) => void) | null;
}
export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocketLike;

/** Options every socket client (chat, captions) takes. */
export interface ConnectionOptions {
  /** The server: `https://api.example.com` (or `wss://…`); a path prefix is kept. */
  baseUrl: string;
  sessionId: string;
  /** A viewer access token. Give `getToken` instead (or as well) to let the client refresh it. */
  token?: string;
  /** Called for the first token, when the server says it expired or was revoked (close 4001), and when it looks stale. */
  getToken?: () => string | Promise<string>;
  /** `globalThis.WebSocket` by default; in Node < 22 pass `WebSocket` from the `ws` package. */
  WebSocket?: WebSocketConstructor;
  /** `query` (default): `?access_token=`. `subprotocol`: offers `streamplane.v1` and `bearer.<token>`, keeping the token out of URLs and logs. */
  tokenTransport?: 'query' | 'subprotocol';
  backoff?: BackoffOptions;
  timers?: Timers;
  /** Sends `{type:"ping"}` this often and reconnects when nothing at all arrives in one interval (a half-open socket). 0 turns it off. Default 25 000. */
  pingIntervalMs?: number;
  /** Give up (terminal `gave_up`) after this many failed attempts in a row. Default: never. */
  maxReconnectAttempts?: number;
}

export type ConnectionState = 'idle' | 'connecting' | 'connected' | 'reconnecting' | 'closed';
export interface StateChange {
  state: ConnectionState;
  /** On `reconnecting`: the close code that caused it (1006 for a network failure) and the wait. */
  code?: number;
  reason?: string;
  delay_ms?: number;
}
/** Why a client stopped for good. Only `close()` by the application and the server's verdicts end it. */
export type TerminalReason = 'client' | 'banned' | 'session_ended' | 'unauthorized' | 'forbidden' | 'not_found' | 'bad_request' | 'protocol_error' | 'gave_up';
export interface Closed {
  reason: TerminalReason;
  code: number | null;
  detail: string;
}
