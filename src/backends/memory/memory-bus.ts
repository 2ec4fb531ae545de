import type { Bus, Unsubscribe } from '../../core/ports/bus.js';
import type { EventName, EventPayload } from '../../core/events.js';

type Handler = (payload: never) => void | Promise<void>;

interface Subscription {
  handler: Handler;
  active: boolean;
}

const closedError = () => new Error('MemoryBus is closed');

/**
 * In-process Bus for the all-in-one mode. It mirrors RedisBus on purpose: payloads are serialised to
 * JSON at publish time (so a handler sees what it would see through Redis, and neither the publisher
 * nor another handler can mutate it), and delivery is always asynchronous.
 */
export class MemoryBus implements Bus {
  readonly #topics = new Map<string, Set<Subscription>>();
  readonly #onError: (err: unknown, topic: string) => void;
  #closed = false;

  constructor(opts: { onError?: (err: unknown, topic: string) => void } = {}) {
    this.#onError = opts.onError ?? (() => undefined);
  }

  async publish<N extends EventName>(topic: N, payload: EventPayload<N>): Promise<void> {
    if (this.#closed) throw closedError();
    const subs = this.#topics.get(topic);
    if (!subs || subs.size === 0) return;
    const json = JSON.stringify(payload);
    const targets = [...subs];
    // One microtask per event keeps per-publisher order (microtasks run FIFO) while never running
    // handlers inside the publisher's call stack.
    queueMicrotask(() => {
      for (const sub of targets) {
        if (sub.active) this.#deliver(topic, sub, json);
      }
    });
  }

  async subscribe<N extends EventName>(topic: N, handler: (payload: EventPayload<N>) => void | Promise<void>): Promise<Unsubscribe> {
    if (this.#closed) throw closedError();
    const sub: Subscription = { handler: handler as Handler, active: true };
    let subs = this.#topics.get(topic);
    if (!subs) {
      subs = new Set();
      this.#topics.set(topic, subs);
    }
    subs.add(sub);
    return async () => {
      sub.active = false;
      const current = this.#topics.get(topic);
      if (!current) return;
      current.delete(sub);
      if (current.size === 0) this.#topics.delete(topic);
    };
  }

  async ping(): Promise<void> {
    if (this.#closed) throw closedError();
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const subs of this.#topics.values()) {
      for (const sub of subs) sub.active = false;
    }
    this.#topics.clear();
  }

  #deliver(topic: string, sub: Subscription, json: string): void {
    try {
      const result = (sub.handler as (payload: unknown) => void | Promise<void>)(JSON.parse(json));
      if (result && typeof result.then === 'function') {
        result.then(undefined, (err: unknown) => this.#report(err, topic));
      }
    } catch (err) {
      this.#report(err, topic);
    }
  }

  #report(err: unknown, topic: string): void {
    try {
      this.#onError(err, topic);
    } catch {
      // A throwing error reporter must not break delivery to the remaining handlers.
    }
  }
}
