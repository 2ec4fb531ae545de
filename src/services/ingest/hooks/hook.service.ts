import type { FastifyBaseLogger } from 'fastify';
import { LRUCache } from 'lru-cache';
import type { Bus, Clock, Database, RateLimitStore } from '../../../core/ports/index.js';
import type { HookDecision, MediaServerEvent } from '../../../core/ports/media-server.js';
import type { IngestConfig } from '../../../config/config.js';
import type { IngestMetricSet } from '../ingest.metrics.js';
import { ingestRepository as repo, type KeyLookupRow, type Side } from '../ingests/ingest.repository.js';
import { hashStreamKey, STREAM_KEY_PATTERN } from '../ingests/stream-key.js';
import type { NodeRow } from '../nodes/node.repository.js';
import { PublishBatcher } from './publish.batcher.js';

interface Deps {
  db: Database;
  bus: Bus;
  clock: Clock;
  rateLimits: RateLimitStore;
  cfg: IngestConfig;
  metrics: IngestMetricSet;
  log: FastifyBaseLogger;
}

/** A key lookup is trusted from memory this long; key changes and ended ingests clear it sooner through the Bus. */
const KEY_CACHE_TTL_MS = 5_000;
/** An update callback waits at most this long for the database before answering from what it knows. */
const UPDATE_DB_BUDGET_MS = 250;
/** Servers that can rename the stream on publish (nginx 302 Location, OME new_url). */
const RENAMES = new Set(['nginx-rtmp', 'ome']);

/**
 * The decisions behind media-server callbacks. Publish authorization fails closed (no database, no
 * publish); the periodic update fails open (a database or Redis hiccup must not kill live streams):
 * it is answered from memory, and waits for the database only briefly when memory knows nothing.
 */
export class HookService {
  private readonly keys = new LRUCache<string, { row: KeyLookupRow | null }>({ max: 100_000, ttl: KEY_CACHE_TTL_MS, allowStale: true, ttlAutopurge: false });
  private readonly throttledUntil = new LRUCache<string, number>({ max: 100_000 });

  private readonly publishes: PublishBatcher;

  constructor(private readonly d: Deps) {
    this.publishes = new PublishBatcher(d.db, d.clock);
  }

  /** Ingest keys changed or the ingest ended: forget what we cached about it. */
  forgetIngest(ingestId: string) {
    for (const [k, v] of this.keys.entries()) if (v.row?.ingest_id === ingestId) this.keys.delete(k);
  }

  async decide(node: NodeRow, e: MediaServerEvent): Promise<HookDecision> {
    switch (e.type) {
      case 'publish.requested':
        return this.publish(node, e).catch((err: unknown) => {
          this.d.log.warn({ err, node_id: node.id }, 'publish authorization failed; refusing (fail closed)');
          return { kind: 'deny', reason: 'unavailable' } as const;
        });
      case 'publish.heartbeat':
        return this.update(node, e).catch((err: unknown) => {
          this.d.log.warn({ err, node_id: node.id }, 'update check failed; letting the stream go on (fail open)');
          return { kind: 'allow' } as const;
        });
      case 'publish.ended':
        await this.ended(node, e).catch((err: unknown) => this.d.log.warn({ err, node_id: node.id }, 'publish end not recorded; the monitor reconciles'));
        return { kind: 'ack' };
      case 'play.requested':
        return this.play(e).catch(() => ({ kind: 'deny', reason: 'unavailable' }) as const);
      case 'publish.started':
      case 'play.heartbeat':
        return { kind: 'allow' };
      default:
        return { kind: 'ack' };
    }
  }

  private async publish(node: NodeRow, e: MediaServerEvent): Promise<HookDecision> {
    const addr = e.addr ?? 'unknown';
    const now = this.d.clock.now();
    if ((this.throttledUntil.get(addr) ?? 0) > now) {
      this.d.metrics.throttled.inc();
      return { kind: 'deny', reason: 'throttled' };
    }
    const refuse = async (reason: string): Promise<HookDecision> => {
      this.d.metrics.badKeys.inc();
      const { count, resetInMs } = await this.d.rateLimits.hit(`ingest-bad-key:${addr}`, this.d.cfg.badKeyWindowSeconds * 1000);
      if (count >= this.d.cfg.badKeyLimit) this.throttledUntil.set(addr, now + resetInMs);
      this.d.log.info({ node_id: node.id, addr, reason }, 'publish refused');
      return { kind: 'deny', reason };
    };
    if (!e.key || !STREAM_KEY_PATTERN.test(e.key)) return refuse('bad_key');
    const hash = hashStreamKey(e.key);
    // Authorization reads the database every time (a revoked key must not publish on a stale cache),
    // in one statement that also records the publish when the key is good (batched with concurrent ones).
    const renames = RENAMES.has(node.kind);
    const row = await this.publishes.authorize({
      keyHash: hash,
      nodeId: node.id,
      clientId: e.clientId,
      addr: e.addr,
      app: e.app,
      streamName: e.stream && e.stream !== e.key ? e.stream : null,
      renames,
    });
    if (row) this.keys.set(hash.toString('base64'), { row: { ...row, status: row.accepted ? 'live' : row.status } });
    if (!row) return refuse('bad_key');
    if (row.revoked_at) return refuse('key_revoked');
    if (row.expires_at && row.expires_at.getTime() <= now) return refuse('key_expired');
    if (row.status === 'ended' || (!row.accepted && sideOf(row, node.id))) return { kind: 'deny', reason: 'ingest_ended' };
    const side = sideOf(row, node.id);
    if (!side) return { kind: 'deny', reason: 'wrong_node' };
    const before = row.status;
    this.d.log.info({ session_id: row.session_id, ingest_id: row.ingest_id, node_id: node.id, side, resumed: before === 'reconnecting' }, 'publish accepted');
    if (before !== 'live') await this.d.bus.publish('session.live', { session_id: row.session_id, at: new Date(now).toISOString() });
    return renames ? { kind: 'allow', rename: row.session_id } : { kind: 'allow' };
  }

  private async update(node: NodeRow, e: MediaServerEvent): Promise<HookDecision> {
    if (!e.key || !STREAM_KEY_PATTERN.test(e.key)) return { kind: 'deny', reason: 'bad_key' };
    const hashed = hashStreamKey(e.key);
    const k = hashed.toString('base64');
    let entry = this.keys.get(k, { allowStale: false });
    if (!entry) {
      const stale = this.keys.get(k, { allowStale: true });
      const fresh = await withBudget(this.d.clock, repo.lookupKey(this.d.db, hashed), UPDATE_DB_BUDGET_MS);
      if (fresh.ok) {
        entry = { row: fresh.value };
        this.keys.set(k, entry);
      } else {
        entry = stale;
      }
    }
    if (!entry) return { kind: 'allow' }; // nothing known and no database: fail open
    const row = entry.row;
    if (!row) return { kind: 'deny', reason: 'bad_key' };
    if (row.revoked_at) return { kind: 'deny', reason: 'key_revoked' };
    if (row.status === 'ended') return { kind: 'deny', reason: 'ingest_ended' };
    const side = sideOf(row, node.id);
    if (!side) return { kind: 'deny', reason: 'wrong_node' };
    // Recorded off the answer's path: the answer must not wait for the database.
    repo.heartbeat(this.d.db, row.ingest_id, side, e.clientId, new Date(this.d.clock.now())).catch(() => {});
    return { kind: 'allow' };
  }

  private async ended(node: NodeRow, e: MediaServerEvent): Promise<void> {
    if (!e.key || !STREAM_KEY_PATTERN.test(e.key)) return;
    const row = await repo.lookupKey(this.d.db, hashStreamKey(e.key));
    if (!row || row.status === 'ended') return;
    const side = sideOf(row, node.id);
    if (!side) return;
    const now = new Date(this.d.clock.now());
    if (await repo.endPublisher(this.d.db, row.ingest_id, side, e.clientId, 'publish_done', now)) {
      this.d.log.info({ session_id: row.session_id, ingest_id: row.ingest_id, side }, 'publisher left');
      if (await repo.markDisconnected(this.d.db, row.ingest_id, now)) this.d.log.info({ session_id: row.session_id, ingest_id: row.ingest_id }, 'ingest reconnecting');
    }
  }

  /** Players may read the public name of an ingest that is open (never the key's name). */
  private async play(e: MediaServerEvent): Promise<HookDecision> {
    if (!e.stream || !/^ses_[0-9a-hjkmnp-tv-z]{26}$/.test(e.stream)) return { kind: 'deny', reason: 'unknown_stream' };
    const open = await repo.openForSession(this.d.db, e.stream);
    return open ? { kind: 'allow' } : { kind: 'deny', reason: 'not_live' };
  }
}

function sideOf(row: KeyLookupRow, nodeId: string): Side | null {
  if (row.primary_node_id === nodeId) return 'primary';
  if (row.backup_node_id === nodeId) return 'backup';
  return null;
}

async function withBudget<T>(clock: Clock, p: Promise<T>, ms: number): Promise<{ ok: true; value: T } | { ok: false }> {
  let timer: { cancel(): void } | undefined;
  const timeout = new Promise<{ ok: false }>((resolve) => {
    timer = clock.setTimeout(() => resolve({ ok: false }), ms);
  });
  try {
    return await Promise.race([p.then((value) => ({ ok: true as const, value })).catch(() => ({ ok: false as const })), timeout]);
  } finally {
    timer?.cancel();
  }
}
