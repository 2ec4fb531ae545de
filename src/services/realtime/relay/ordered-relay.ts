import type { FastifyBaseLogger } from 'fastify';
import type { Clock, TimerHandle } from '../../../core/ports/index.js';

export interface Offsetted {
  offset: number;
}

export interface OrderedRelayOptions<E extends Offsetted> {
  /** How long an event waits for a missing predecessor before the gap is read from the database. */
  gapMs: number;
  /** The stored events of `room` with `from <= offset < to`, in order. */
  fetchRange(room: string, from: number, to: number): Promise<E[]>;
  deliver(room: string, event: E): void;
  log: FastifyBaseLogger;
}

interface RoomState<E> {
  /** The next offset to deliver; null until a join told us where the room stands. */
  next: number | null;
  waiting: Map<number, E>;
  timer: TimerHandle | null;
}

/**
 * Bus → hub, in offset order. The Bus is at-most-once and does not order messages published by
 * different instances, so an event may arrive before its predecessor, or its predecessor never. An
 * early event waits `gapMs` for the missing ones, then they are read from the database (every event
 * is stored before it is published) and everything goes out in order.
 */
export class OrderedRelay<E extends Offsetted> {
  private readonly rooms = new Map<string, RoomState<E>>();

  constructor(
    private readonly clock: Clock,
    private readonly o: OrderedRelayOptions<E>,
  ) {}

  /**
   * A local socket joined `room` when its latest offset was `lastOffset`. Only the first join places
   * the relay: later joins may read offsets the Bus has not brought yet, which the sockets already
   * here still need.
   */
  known(room: string, lastOffset: number) {
    const st = this.state(room);
    if (st.next === null) {
      st.next = lastOffset + 1;
      this.drain(room, st);
    }
  }

  receive(room: string, e: E) {
    const st = this.state(room);
    if (st.next !== null && e.offset < st.next) return;
    st.waiting.set(e.offset, e);
    this.drain(room, st);
  }

  /** The room has no local sockets left: nothing to deliver, nothing to remember. */
  forget(room: string) {
    const st = this.rooms.get(room);
    st?.timer?.cancel();
    this.rooms.delete(room);
  }

  close() {
    for (const room of [...this.rooms.keys()]) this.forget(room);
  }

  private state(room: string): RoomState<E> {
    let st = this.rooms.get(room);
    if (!st) this.rooms.set(room, (st = { next: null, waiting: new Map(), timer: null }));
    return st;
  }

  private drain(room: string, st: RoomState<E>) {
    if (st.next === null) return;
    for (let e = st.waiting.get(st.next); e; e = st.waiting.get(st.next)) {
      st.waiting.delete(st.next);
      st.next++;
      this.o.deliver(room, e);
    }
    for (const offset of st.waiting.keys()) if (offset < st.next) st.waiting.delete(offset);
    if (st.waiting.size === 0) {
      st.timer?.cancel();
      st.timer = null;
    } else if (!st.timer) {
      st.timer = this.clock.setTimeout(() => void this.fill(room, st), this.o.gapMs);
    }
  }

  private async fill(room: string, st: RoomState<E>) {
    st.timer = null;
    if (this.rooms.get(room) !== st || st.next === null || st.waiting.size === 0) return;
    const from = st.next;
    const to = lowest(st.waiting);
    try {
      for (const e of await this.o.fetchRange(room, from, to)) if (e.offset >= st.next) st.waiting.set(e.offset, e);
    } catch (err) {
      this.o.log.warn({ err, room, from, to }, 'relay gap not filled: skipping it (clients recover on reconnect)');
    }
    if (this.rooms.get(room) !== st) return;
    // Whatever the database had is now waiting (the missing event may also have arrived meanwhile and
    // been delivered, leaving nothing); a hole it could not fill is skipped rather than holding the
    // room back forever.
    if (st.waiting.size > 0 && !st.waiting.has(st.next)) st.next = lowest(st.waiting);
    this.drain(room, st);
  }
}

/** The smallest key (a loop: spreading a large map into Math.min can overflow the stack). */
function lowest(m: Map<number, unknown>): number {
  let min = Infinity;
  for (const k of m.keys()) if (k < min) min = k;
  return min;
}
