import type { Clock, Database } from '../../../core/ports/index.js';
import { chatRepository as repo, type StoredMessage } from './chat.repository.js';

interface Pending {
  userId: string;
  id: string;
  text: string;
  done(r: StoredMessage | null): void;
  fail(err: unknown): void;
}

/** Messages stored per statement at most (bounds the statement and the wait of the first in line). */
const MAX_BATCH = 200;

/**
 * Group commit for chat: while a room's insert is in flight, the messages sent meanwhile queue, and
 * the next statement stores all of them. A quiet room pays one statement per message as before; a
 * busy one pays one per batch (a PGlite statement costs ~1–2 ms whatever it holds, which capped a room
 * near 550 messages/s). No timer: batching only ever happens under load.
 */
export class MessageBatcher {
  private readonly queues = new Map<string, Pending[]>();

  constructor(
    private readonly db: Database,
    private readonly clock: Clock,
  ) {}

  /** Stores one message in send order; null when a restriction (ban, timeout) refused it. */
  store(sessionId: string, m: { userId: string; id: string; text: string }): Promise<StoredMessage | null> {
    return new Promise((done, fail) => {
      const queue = this.queues.get(sessionId);
      if (queue) return void queue.push({ ...m, done, fail });
      this.queues.set(sessionId, [{ ...m, done, fail }]);
      void this.drain(sessionId);
    });
  }

  private async drain(sessionId: string) {
    for (let queue = this.queues.get(sessionId); queue && queue.length > 0; queue = this.queues.get(sessionId)) {
      const batch = queue.splice(0, MAX_BATCH);
      try {
        const stored = await repo.storeMany(this.db, sessionId, new Date(this.clock.now()), batch);
        for (const p of batch) p.done(stored.get(p.id) ?? null);
      } catch (err) {
        for (const p of batch) p.fail(err);
      }
    }
    this.queues.delete(sessionId);
  }
}
