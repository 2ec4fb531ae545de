import type { Presence } from '../../../core/ports/index.js';
import type { Hub } from '../hub/hub.js';

const CHAT = 'chat:';
/** The Presence set of a room: its distinct users, on every instance. */
const setOf = (sessionId: string) => `${CHAT}${sessionId}`;

/**
 * Distinct users per chat room, across instances: each instance refreshes the users of its own sockets
 * every `refreshMs` (they count for three intervals) and tells its sockets the room's count when it
 * changed.
 */
export class ChatPresence {
  /** The count each local room was last told, so unchanged counts are not re-sent. */
  private readonly told = new Map<string, number>();

  constructor(
    private readonly presence: Presence,
    private readonly hub: Hub,
    private readonly refreshMs: number,
  ) {}

  /** A user joined here: counted at once; the room's count, for its `joined` frame. */
  async join(sessionId: string, userId: string): Promise<number> {
    return (await this.presence.touch(setOf(sessionId), userId, this.refreshMs * 3)).count;
  }

  /** A user's last socket here closed: uncounted now (another instance re-counts it at its next tick). */
  async leave(sessionId: string, userId: string) {
    if (this.hub.hasUser(`${CHAT}${sessionId}`, userId)) return;
    await this.presence.leave(setOf(sessionId), userId);
  }

  /** The room has no sockets here any more. */
  forget(sessionId: string) {
    this.told.delete(sessionId);
  }

  /** Refreshes the users of every local room and sends `presence` frames where the count changed. */
  async tick() {
    for (const room of [...this.hub.roomNames()]) {
      if (!room.startsWith(CHAT)) continue;
      const sessionId = room.slice(CHAT.length);
      const set = setOf(sessionId);
      await Promise.all([...this.hub.usersIn(room)].map((u) => this.presence.touch(set, u, this.refreshMs * 3)));
      const count = await this.presence.count(set);
      if (this.told.get(sessionId) === count) continue;
      this.told.set(sessionId, count);
      this.hub.broadcast(room, JSON.stringify({ type: 'presence', count }));
    }
  }
}
