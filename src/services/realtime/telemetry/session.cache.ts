import { LRUCache } from 'lru-cache';
import type { Clock, Database } from '../../../core/ports/index.js';
import { telemetryRepository as repo } from './telemetry.repository.js';

/** Sessions are never deleted, so "exists" can be remembered long; "unknown" briefly (it may be created next). */
const KNOWN_TTL_MS = 300_000;
const UNKNOWN_TTL_MS = 2_000;
const MAX_ENTRIES = 10_000;

/**
 * Which session ids exist, cached per instance: every telemetry batch names its sessions, and a
 * database round trip per batch would cost more than the rest of the request. Expiry goes through
 * the Clock (lru-cache's own TTL would read performance.now()).
 */
export class SessionCache {
  #cache = new LRUCache<string, { exists: boolean; until: number }>({ max: MAX_ENTRIES });

  constructor(
    private readonly db: Database,
    private readonly clock: Clock,
  ) {}

  /** Whether the session exists, from the cache alone; undefined when only the database can say. */
  cachedOne(id: string): boolean | undefined {
    const hit = this.#cache.get(id);
    return hit && hit.until > this.clock.now() ? hit.exists : undefined;
  }

  /** The subset of `ids` that exist. */
  async existing(ids: Iterable<string>): Promise<Set<string>> {
    const now = this.clock.now();
    const found = new Set<string>();
    const missing: string[] = [];
    for (const id of ids) {
      const hit = this.#cache.get(id);
      if (hit && hit.until > now) {
        if (hit.exists) found.add(id);
      } else {
        missing.push(id);
      }
    }
    if (missing.length > 0) {
      const exist = await repo.existingSessions(this.db, missing);
      for (const id of missing) {
        const exists = exist.has(id);
        this.#cache.set(id, { exists, until: now + (exists ? KNOWN_TTL_MS : UNKNOWN_TTL_MS) });
        if (exists) found.add(id);
      }
    }
    return found;
  }
}
