export type { Bus, Unsubscribe } from './bus.js';
export type { Clock, TimerHandle } from './clock.js';
export type { Database, Queryable, QueryResult } from './database.js';
export type { Presence, TouchResult } from './presence.js';
export type { RateLimitStore } from './rate-limit-store.js';

import type { Bus } from './bus.js';
import type { Clock } from './clock.js';
import type { Database } from './database.js';
import type { Presence } from './presence.js';
import type { RateLimitStore } from './rate-limit-store.js';

/** What `createBackends(config)` hands to every service plugin. Whoever created it closes it. */
export interface Backends {
  database: Database;
  bus: Bus;
  presence: Presence;
  rateLimits: RateLimitStore;
  clock: Clock;
  /** 'memory' or 'redis': which implementation serves bus, presence and rate limits. */
  cacheKind: 'memory' | 'redis';
  close(): Promise<void>;
}
