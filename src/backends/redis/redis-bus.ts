import type { Redis } from 'ioredis';
import type { Bus, Unsubscribe } from '../../core/ports/bus.js';
import type { EventName, EventPayload } from '../../core/events.js';
import { DependencyUnavailableError } from '../../core/errors.js';
import { guard } from './redis-errors.js';

type Handler = (payload: unknown) => void | Promise<void>;

interface Subscription {
  handler: Handler;
  active: boolean;
}

interface Topic {
  subs: Set<Subscription>;
  /** Whether Redis holds our SUBSCRIBE for this channel (false again after the connection drops). */
  subscribed: boolean;
  /** SUBSCRIBE/UNSUBSCRIBE for one channel run one after another, so they cannot overtake each other. */
  chain: Promise<void>;
}

export interface RedisBusOptions {
  /** Shared command connection, used for PUBLISH. */
  publisher: Redis;
  /** Dedicated connection in subscriber mode; nothing else may use it. */
  subscriber: Redis;
  /** Channel = prefix + topic. */
  prefix: string;
  onError?: (err: unknown, topic: string) => void;
}

/**
 * Bus over Redis pub/sub: at-most-once, ordered per publisher (one connection publishes in order and
 * Redis delivers in order). The subscriber connection loses its subscriptions when it reconnects, so
 * they are re-sent on every 'ready'. Events published during the gap are lost, as the Bus port allows.
 */
export class RedisBus implements Bus {
  readonly #publisher: Redis;
  readonly #subscriber: Redis;
  readonly #prefix: string;
  readonly #onError: (err: unknown, topic: string) => void;
  readonly #topics = new Map<string, Topic>();
  #closed = false;

  readonly #onMessage = (channel: string, message: string) => this.#dispatch(channel, message);
  readonly #onReady = () => {
    for (const [name, topic] of this.#topics) this.#sync(name, topic).catch((err: unknown) => this.#report(err, name));
  };
  readonly #onClose = () => {
    for (const topic of this.#topics.values()) topic.subscribed = false;
  };

  constructor(opts: RedisBusOptions) {
    this.#publisher = opts.publisher;
    this.#subscriber = opts.subscriber;
    this.#prefix = opts.prefix;
    this.#onError = opts.onError ?? (() => undefined);
    this.#subscriber.on('message', this.#onMessage);
    this.#subscriber.on('ready', this.#onReady);
    this.#subscriber.on('close', this.#onClose);
  }

  async publish<N extends EventName>(topic: N, payload: EventPayload<N>): Promise<void> {
    this.#checkOpen();
    const json = JSON.stringify(payload);
    await guard('queue', () => this.#publisher.publish(this.#prefix + topic, json));
  }

  async subscribe<N extends EventName>(name: N, handler: (payload: EventPayload<N>) => void | Promise<void>): Promise<Unsubscribe> {
    this.#checkOpen();
    const sub: Subscription = { handler: handler as Handler, active: true };
    let topic = this.#topics.get(name);
    if (!topic) {
      topic = { subs: new Set(), subscribed: false, chain: Promise.resolve() };
      this.#topics.set(name, topic);
    }
    topic.subs.add(sub);
    try {
      await this.#sync(name, topic);
    } catch (err) {
      sub.active = false;
      topic.subs.delete(sub);
      throw err;
    }
    return async () => {
      if (!sub.active) return;
      sub.active = false;
      topic.subs.delete(sub);
      if (this.#closed) return;
      await this.#sync(name, topic);
    };
  }

  async ping(): Promise<void> {
    this.#checkOpen();
    if (this.#subscriber.status !== 'ready') {
      throw new DependencyUnavailableError('queue', new Error(`Redis subscriber connection is ${this.#subscriber.status}`));
    }
    await guard('queue', () => this.#publisher.ping());
  }

  /** Stops delivery and leaves the channels; the connections belong to whoever created them. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#subscriber.off('message', this.#onMessage);
    this.#subscriber.off('ready', this.#onReady);
    this.#subscriber.off('close', this.#onClose);
    const channels = [...this.#topics.entries()].filter(([, t]) => t.subscribed).map(([name]) => this.#prefix + name);
    for (const topic of this.#topics.values()) for (const sub of topic.subs) sub.active = false;
    this.#topics.clear();
    if (channels.length > 0 && this.#subscriber.status === 'ready') {
      await this.#subscriber.unsubscribe(...channels).catch(() => undefined);
    }
  }

  /** Brings Redis in line with whether the topic has subscribers, after earlier operations on it. */
  #sync(name: string, topic: Topic): Promise<void> {
    const op = topic.chain.then(async () => {
      const wanted = topic.subs.size > 0 && !this.#closed;
      if (wanted && !topic.subscribed) {
        await guard('queue', () => this.#subscriber.subscribe(this.#prefix + name));
        topic.subscribed = true;
      } else if (!wanted && topic.subscribed) {
        topic.subscribed = false;
        await guard('queue', () => this.#subscriber.unsubscribe(this.#prefix + name)).catch((err: unknown) => {
          // Not fatal: a stray subscription only costs ignored messages, and a reconnect drops it.
          this.#report(err, name);
        });
      }
      if (topic.subs.size === 0 && !topic.subscribed && this.#topics.get(name) === topic) this.#topics.delete(name);
    });
    topic.chain = op.catch(() => undefined);
    return op;
  }

  #dispatch(channel: string, message: string): void {
    if (!channel.startsWith(this.#prefix)) return;
    const name = channel.slice(this.#prefix.length);
    const topic = this.#topics.get(name);
    if (!topic) return;
    for (const sub of [...topic.subs]) {
      if (!sub.active) continue;
      try {
        // Each handler parses its own copy, so one handler mutating the payload cannot affect another.
        const result = sub.handler(JSON.parse(message));
        if (result && typeof result.then === 'function') result.then(undefined, (err: unknown) => this.#report(err, name));
      } catch (err) {
        this.#report(err, name);
      }
    }
  }

  #report(err: unknown, topic: string): void {
    try {
      this.#onError(err, topic);
    } catch {
      // A throwing error reporter must not break delivery to the remaining handlers.
    }
  }

  #checkOpen(): void {
    if (this.#closed) throw new Error('RedisBus is closed');
  }
}
