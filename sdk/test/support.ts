import WebSocket from 'ws';
import type { Timers } from '../src/backoff.js';

/**
 * Timers a test fires by hand: a reconnect or a flush happens when the test says, so "while the
 * client is away, something happens" is a sequence, not a race.
 */
export class ManualTimers implements Timers {
  private seq = 0;
  readonly pending = new Map<number, { fn: () => void; ms: number }>();

  setTimeout(fn: () => void, ms: number): unknown {
    const id = ++this.seq;
    this.pending.set(id, { fn, ms });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.pending.delete(handle as number);
  }

  /** Fires what is pending now (not what those callbacks schedule). */
  fireAll(): number {
    const due = [...this.pending.entries()];
    this.pending.clear();
    for (const [, t] of due) t.fn();
    return due.length;
  }

  delays(): number[] {
    return [...this.pending.values()].map((t) => t.ms);
  }
}

/** `ws`'s WebSocket, remembering every socket it opened so a test can cut one (network loss). */
export function recordingWebSocket(): { Ctor: new (url: string, protocols?: string | string[]) => WebSocket; sockets: WebSocket[] } {
  const sockets: WebSocket[] = [];
  class Recording extends WebSocket {
    constructor(url: string, protocols?: string | string[]) {
      super(url, protocols);
      sockets.push(this);
    }
  }
  return { Ctor: Recording, sockets };
}

/** Collects a client's events by name, in order. */
export function record<E extends object>(client: { on<K extends keyof E>(event: K, fn: (p: E[K]) => void): () => void }, names: Array<keyof E>) {
  const seen = {} as { [K in keyof E]: Array<E[K]> };
  for (const n of names) {
    seen[n] = [];
    client.on(n, (p) => seen[n].push(p));
  }
  return seen;
}
