import type { EventName, EventPayload } from '../events.js';

/**
 * Bus: notifications between services and between instances of one service.
 *
 * Guarantees:
 * - At-most-once: an event published while a subscriber (or Redis) is away is lost for it. Durable
 *   facts live in the Database; a subscriber that must not miss anything also reconciles from there.
 * - Every subscriber of a topic on every instance (including the publishing one) receives each
 *   delivered event once. Events from one publisher on one topic arrive in publish order.
 * - A handler that throws or rejects does not affect other handlers or the publisher; the error is
 *   reported to the `onError` given at construction.
 * - `publish` resolves once the event has been handed to the transport, not when it is handled.
 */
export type Unsubscribe = () => Promise<void>;

export interface Bus {
  publish<N extends EventName>(topic: N, payload: EventPayload<N>): Promise<void>;
  subscribe<N extends EventName>(topic: N, handler: (payload: EventPayload<N>) => void | Promise<void>): Promise<Unsubscribe>;
  ping(): Promise<void>;
  close(): Promise<void>;
}
