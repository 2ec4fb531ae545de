import type { Clock } from '../../../core/ports/index.js';
import type { NodeRow } from '../nodes/node.repository.js';
import type { NodeHealth } from '../nodes/node.service.js';
import { MediaServerClient, NodeUnreachableError } from '../stats/node.client.js';
import type { StreamStats } from '../stats/stream-stats.js';

/** What the board remembers of one stream on one node, across polls. */
export interface StreamSample {
  stats: StreamStats;
  firstSeenAt: number;
  lastSeenAt: number;
  /** When bytes_in last grew: a stream whose bytes stop growing is stalled. */
  lastGrowthAt: number;
  /** Received bitrate from the growth of bytes_in over the recent polls (nginx's bw_in is a 10 s average that reads 0 at first). */
  bitrateBps: number | null;
  history: Array<{ at: number; bytes: number }>;
}

interface NodeEntry {
  signature: string;
  client: MediaServerClient;
  health: NodeHealth;
  failures: number;
  inFlight: boolean;
  streams: Map<string, StreamSample>;
}

export interface BoardOptions {
  timeoutMs: number;
  downAfterFailures: number;
  pollMs: number;
  onPoll?: (nodeId: string, ok: boolean, seconds: number) => void;
}

const RATE_WINDOW_MS = 5_000;
const key = (app: string, name: string) => `${app}/${name}`;

/**
 * Per-instance view of every node's health and streams, from polling each node's stats page. A node
 * is down after `downAfterFailures` failed polls in a row (or while its circuit is open) and up again
 * at the first good poll. Calls go through MediaServerClient (timeout, retry, circuit breaker).
 */
export class NodeHealthBoard {
  private readonly entries = new Map<string, NodeEntry>();

  constructor(
    private readonly clock: Clock,
    private readonly opts: BoardOptions,
  ) {}

  /** Follows the node table: new nodes get a client, changed URLs a new one, deleted nodes none. */
  sync(nodes: NodeRow[]): void {
    const seen = new Set<string>();
    for (const n of nodes) {
      seen.add(n.id);
      const signature = `${n.kind} ${n.stats_url ?? ''} ${n.control_url ?? ''}`;
      const existing = this.entries.get(n.id);
      if (existing?.signature === signature) continue;
      existing?.client.dispose();
      this.entries.set(n.id, {
        signature,
        client: new MediaServerClient({
          kind: n.kind,
          statsUrl: n.stats_url,
          controlUrl: n.control_url,
          timeoutMs: this.opts.timeoutMs,
          retries: 1,
          breaker: { consecutiveFailures: this.opts.downAfterFailures, halfOpenAfterMs: this.opts.pollMs * 2 },
        }),
        health: { state: 'unknown', checkedAt: null, detail: n.stats_url ? 'not polled yet' : 'no stats_url: health follows callbacks only' },
        failures: 0,
        inFlight: false,
        streams: new Map(),
      });
    }
    for (const [id, e] of this.entries) {
      if (!seen.has(id)) {
        e.client.dispose();
        this.entries.delete(id);
      }
    }
  }

  /** One poll of every node with a stats page; a node whose previous poll is still running is skipped. */
  async pollAll(): Promise<void> {
    await Promise.all([...this.entries.entries()].map(([id, e]) => this.poll(id, e)));
  }

  health(nodeId: string): NodeHealth {
    return this.entries.get(nodeId)?.health ?? { state: 'unknown', checkedAt: null, detail: 'unknown node' };
  }

  hasStats(nodeId: string): boolean {
    return this.entries.get(nodeId)?.signature.split(' ')[1] !== '';
  }

  stream(nodeId: string, app: string, name: string): StreamSample | undefined {
    return this.entries.get(nodeId)?.streams.get(key(app, name));
  }

  client(nodeId: string): MediaServerClient | undefined {
    return this.entries.get(nodeId)?.client;
  }

  close(): void {
    for (const e of this.entries.values()) e.client.dispose();
    this.entries.clear();
  }

  private async poll(id: string, e: NodeEntry): Promise<void> {
    if (e.inFlight || !this.hasStats(id)) return;
    e.inFlight = true;
    const started = performance.now();
    // Health is dated when the question was asked: a poll that was already failing when a publisher
    // arrived must not count against that publisher.
    const askedAt = this.clock.now();
    try {
      const stats = await e.client.fetchStats();
      const now = this.clock.now();
      e.failures = 0;
      e.health = { state: 'up', checkedAt: askedAt, detail: null };
      const next = new Map<string, StreamSample>();
      for (const s of stats.streams) {
        const k = key(s.app, s.name);
        const prev = e.streams.get(k);
        const history = [...(prev?.history ?? []), { at: now, bytes: s.bytesIn }].filter((h) => now - h.at <= RATE_WINDOW_MS);
        const oldest = history[0]!;
        const grew = !prev || s.bytesIn > prev.stats.bytesIn;
        next.set(k, {
          stats: s,
          firstSeenAt: prev?.firstSeenAt ?? now,
          lastSeenAt: now,
          lastGrowthAt: grew ? now : prev.lastGrowthAt,
          bitrateBps: now > oldest.at ? ((s.bytesIn - oldest.bytes) * 8 * 1000) / (now - oldest.at) : null,
          history,
        });
      }
      e.streams = next;
      this.opts.onPoll?.(id, true, (performance.now() - started) / 1000);
    } catch (err) {
      // An open circuit answers without asking the node: that is no new evidence about it.
      if (err instanceof NodeUnreachableError && err.circuitOpen) {
        e.health = { ...e.health, state: 'down' };
        return;
      }
      e.failures++;
      const down = e.failures >= this.opts.downAfterFailures || e.client.breakerState === 'open';
      e.health = { state: down ? 'down' : e.health.state, checkedAt: askedAt, detail: err instanceof Error ? err.message : String(err) };
      if (down) e.streams = new Map();
      this.opts.onPoll?.(id, false, (performance.now() - started) / 1000);
    } finally {
      e.inFlight = false;
    }
  }
}
