import type { TerminalReason } from './socket-options.js';

/** Back off at least this long after a flood close (4029): the server counts frames over 10 s. */
const FLOOD_BACKOFF_MS = 10_000;
const HANDSHAKE_STATUS = /Unexpected server response: (\d{3})/;

/** The HTTP status of a refused handshake, when the runtime tells it (ws does, in its error message; browsers never do). */
export function handshakeStatus(ev: { message?: unknown; error?: { message?: unknown } } | undefined): number | null {
  const m = HANDSHAKE_STATUS.exec(String(ev?.message ?? ev?.error?.message ?? ''));
  return m ? Number(m[1]) : null;
}

export type Verdict = { kind: 'retry'; minDelayMs: number } | { kind: 'refresh' } | { kind: 'stop'; reason: TerminalReason };

/**
 * What to do after a socket closed. A refused handshake's HTTP status is visible in Node (ws puts it in
 * the error message) but not in browsers, where every refusal looks like a network failure (1006).
 */
export function verdictOf(code: number, opened: boolean, status: number | null): Verdict {
  if (!opened && status !== null) {
    if (status === 401) return { kind: 'refresh' };
    if (status === 403) return { kind: 'stop', reason: 'forbidden' };
    if (status === 404) return { kind: 'stop', reason: 'not_found' };
    if (status === 409) return { kind: 'stop', reason: 'session_ended' };
    if (status === 400 || status === 426) return { kind: 'stop', reason: 'bad_request' };
    return { kind: 'retry', minDelayMs: 0 }; // 429, 5xx, a proxy's error page
  }
  if (code === 4001) return { kind: 'refresh' };
  if (code === 4003) return { kind: 'stop', reason: 'banned' };
  if (code === 4004) return { kind: 'stop', reason: 'session_ended' };
  // A protocol bug in this client would only repeat on a new socket.
  if (code === 1002 || code === 1003) return { kind: 'stop', reason: 'protocol_error' };
  if (code === 4029) return { kind: 'retry', minDelayMs: FLOOD_BACKOFF_MS };
  return { kind: 'retry', minDelayMs: 0 }; // 1006 network, 1012 restart, 1013, 4008 slow consumer, anything new
}
