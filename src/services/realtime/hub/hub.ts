import type { Clock, TimerHandle } from '../../../core/ports/index.js';
import { CLOSE, type CloseCode } from './close-codes.js';
import type { Connection } from './connection.js';
import { rawSocket, textFrame } from './wire.js';

/** Keepalive works through the sockets in this many slices per ping interval. */
const PING_SLICES = 25;

export interface HubOptions {
  pingIntervalMs: number;
  authSweepMs: number;
  maxConnectionsPerIp: number;
  /** Why a connection may no longer stay (token expired or revoked, session ended, user banned), or null. */
  check(conn: Connection): { code: CloseCode; reason: string } | null;
}

/**
 * This instance's sockets, by room (`chat:<session>`, `captions:<session>`). The hub knows nothing of
 * chat: it delivers frames, keeps sockets alive, drops dead and unwelcome ones, and closes them all
 * with 1012 when the process stops. Cross-instance delivery is the relay's job.
 */
export class Hub {
  private readonly rooms = new Map<string, Set<Connection>>();
  private readonly perIp = new Map<string, number>();
  /** Room → user → open sockets: who is here, without walking a room's sockets (presence, metrics). */
  private readonly users = new Map<string, Map<string, number>>();
  /** Connections corked since the last uncork: frames delivered in one tick leave in one write each. */
  private readonly corked = new Set<Connection>();
  /** Offset deliveries in the current tick: the first goes straight out, later ones are coalesced. */
  private deliveriesThisTick = 0;
  /** Keepalive visits one slice of the sockets per tick; these say which, and which slice a new socket joins. */
  private pingSlice = 0;
  private nextSlice = 0;
  private readonly timers: TimerHandle[];

  constructor(
    private readonly clock: Clock,
    private readonly opts: HubOptions,
  ) {
    this.timers = [clock.setInterval(() => this.keepalive(), opts.pingIntervalMs / PING_SLICES), clock.setInterval(() => this.sweep(), opts.authSweepMs)];
  }

  /** Whether one more socket from `ip` is allowed on this instance. */
  admits(ip: string): boolean {
    return (this.perIp.get(ip) ?? 0) < this.opts.maxConnectionsPerIp;
  }

  add(conn: Connection) {
    conn.pingSlice = this.nextSlice++ % PING_SLICES;
    let room = this.rooms.get(conn.room);
    if (!room) this.rooms.set(conn.room, (room = new Set()));
    room.add(conn);
    this.perIp.set(conn.ip, (this.perIp.get(conn.ip) ?? 0) + 1);
    let users = this.users.get(conn.room);
    if (!users) this.users.set(conn.room, (users = new Map()));
    users.set(conn.userId, (users.get(conn.userId) ?? 0) + 1);
    conn.socket.on('pong', () => (conn.alive = true));
  }

  remove(conn: Connection) {
    const room = this.rooms.get(conn.room);
    if (!room?.delete(conn)) return;
    if (room.size === 0) this.rooms.delete(conn.room);
    decrement(this.perIp, conn.ip);
    const users = this.users.get(conn.room);
    if (users) {
      decrement(users, conn.userId);
      if (users.size === 0) this.users.delete(conn.room);
    }
  }

  /** The distinct users with a socket in `room` here. */
  usersIn(room: string): Iterable<string> {
    return this.users.get(room)?.keys() ?? [];
  }

  /** Whether `userId` still has a socket in `room` here. */
  hasUser(room: string, userId: string): boolean {
    return this.users.get(room)?.has(userId) ?? false;
  }

  /** Sockets in `room` here. */
  count(room: string): number {
    return this.rooms.get(room)?.size ?? 0;
  }

  has(room: string) {
    return this.rooms.has(room);
  }

  members(room: string): Iterable<Connection> {
    return this.rooms.get(room) ?? [];
  }

  roomNames(): Iterable<string> {
    return this.rooms.keys();
  }

  get size() {
    let n = 0;
    for (const r of this.rooms.values()) n += r.size;
    return n;
  }

  /**
   * Delivers an event that carries a room offset. The frame is serialized once by the caller and the
   * same bytes go to every socket. A socket still joining queues it; a socket that already has it
   * (from its history or replay) skips it; `onlyFor` limits delivery to one user's sockets (shadow bans).
   */
  deliver(room: string, offset: number, data: string, onlyFor: string | null = null) {
    const members = this.rooms.get(room);
    if (!members) return;
    // A lone message is written at once (corking it would only add work); from the second one in the
    // same tick on, the sockets are corked and the rest of the burst leaves in one write per socket.
    if (this.deliveriesThisTick++ === 0) process.nextTick(() => (this.deliveriesThisTick = 0));
    const coalesce = this.deliveriesThisTick > 1;
    let frame: Buffer | null = null;
    for (const conn of members) {
      if (conn.pending) {
        conn.pending.push({ offset, data, onlyFor });
        continue;
      }
      if (offset <= conn.lastOffset) continue;
      conn.lastOffset = offset;
      if (onlyFor === null || conn.userId === onlyFor) {
        if (coalesce) this.cork(conn);
        conn.sendFrame((frame ??= textFrame(data)));
      }
    }
  }

  /**
   * Holds a socket's writes until the current tick ends: a burst (group-committed messages arrive
   * together) then costs one write per socket instead of one per message and socket, which was most
   * of the fan-out's time. `_socket` is ws's underlying net.Socket (stable in ws 8).
   */
  private cork(conn: Connection) {
    if (this.corked.has(conn)) return;
    const raw = rawSocket(conn.socket);
    if (!raw) return;
    // What was queued before this tick is what says whether the reader keeps up; this tick's own
    // frames sit in the buffer until the uncork and must not count against it.
    conn.backlogBeforeCork = conn.socket.bufferedAmount;
    raw.cork();
    this.corked.add(conn);
    if (this.corked.size === 1) process.nextTick(() => this.uncorkAll());
  }

  private uncorkAll() {
    for (const conn of this.corked) {
      conn.backlogBeforeCork = null;
      rawSocket(conn.socket)?.uncork();
    }
    this.corked.clear();
  }

  /** Sends a frame with no offset (settings, presence) to every joined socket of a room, built once. */
  broadcast(room: string, data: string) {
    let frame: Buffer | null = null;
    for (const conn of this.rooms.get(room) ?? []) if (!conn.pending) conn.sendFrame((frame ??= textFrame(data)));
  }

  /** Ends the joining phase of a socket: sends what queued after `lastOffset`, in order. */
  joined(conn: Connection, lastOffset: number) {
    const queued = conn.pending ?? [];
    conn.pending = null;
    conn.lastOffset = lastOffset;
    queued.sort((a, b) => a.offset - b.offset);
    for (const q of queued) {
      if (q.offset <= conn.lastOffset) continue;
      conn.lastOffset = q.offset;
      if (q.onlyFor === null || conn.userId === q.onlyFor) conn.send(q.data);
    }
  }

  /** Closes every socket of `room` (or those `which` selects) with a code. */
  closeWhere(room: string, which: (c: Connection) => boolean, code: CloseCode, reason: string) {
    for (const conn of [...(this.rooms.get(room) ?? [])]) if (which(conn)) conn.close(code, reason);
  }

  /** Re-checks every socket now (a revocation or ban event arrived). */
  sweep() {
    for (const room of this.rooms.values()) {
      for (const conn of room) {
        if (conn.closed) continue;
        const verdict = this.opts.check(conn);
        if (verdict) conn.close(verdict.code, verdict.reason);
      }
    }
  }

  /**
   * Tells every client to reconnect elsewhere (1012), waits up to `graceMs` for the closing handshakes,
   * then cuts what is left, and stops the timers.
   */
  async close(graceMs: number) {
    for (const t of this.timers) t.cancel();
    for (const room of this.rooms.values()) for (const conn of room) conn.close(CLOSE.serviceRestart, 'server restarting');
    for (const deadline = this.clock.now() + graceMs; this.size > 0 && this.clock.now() < deadline; ) await this.clock.sleep(20);
    for (const room of this.rooms.values()) for (const conn of room) conn.socket.terminate();
  }

  /**
   * Each call pings one slice of the sockets, so every socket is pinged once per interval but never all
   * at once: 10,000 pings in one loop held the event loop (and every message behind it) for tens of ms.
   */
  private keepalive() {
    const slice = this.pingSlice;
    this.pingSlice = (slice + 1) % PING_SLICES;
    for (const room of this.rooms.values()) {
      for (const conn of room) {
        if (conn.pingSlice !== slice) continue;
        // No pong since the last ping, or a close the peer never completed: the peer is gone.
        if (!conn.alive) {
          conn.terminate();
          continue;
        }
        conn.alive = false;
        conn.socket.ping();
      }
    }
  }

}

function decrement(m: Map<string, number>, key: string) {
  const n = (m.get(key) ?? 1) - 1;
  if (n <= 0) m.delete(key);
  else m.set(key, n);
}
