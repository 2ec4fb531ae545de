import type { FastifyBaseLogger } from 'fastify';
import { AppError, badRequest, conflict, notFound } from '../../../core/errors.js';
import { newId } from '../../../core/ids.js';
import type { Bus, Clock, Database } from '../../../core/ports/index.js';
import type { IngestConfig } from '../../../config/config.js';
import { decodeCursor, encodeCursor } from '../../../http/pagination.js';
import type { IngestMetricSet } from '../ingest.metrics.js';
import type { NodeHealthBoard } from '../monitor/node-health.board.js';
import { assessQuality } from '../monitor/quality.js';
import { evaluateSide, type SideVerdict } from '../monitor/side-state.js';
import { applicationOf } from '../nodes/node.nginx-config.js';
import { nodeRepository, type NodeRow } from '../nodes/node.repository.js';
import type { NodeService } from '../nodes/node.service.js';
import { encoderSettings, type EncoderSettings } from './encoder-settings.js';
import { ingestRepository as repo, sessionLookup, type IngestRow, type PublisherRow, type Side } from './ingest.repository.js';
import type { IngestMetrics, IngestStatus, IngestSummary, ListIngestsQuery, StartIngestBody } from './ingest.schemas.js';
import { route } from './routing.js';
import { hashStreamKey, newStreamKey } from './stream-key.js';

export interface IngestDeps {
  db: Database;
  bus: Bus;
  clock: Clock;
  nodes: NodeService;
  board: NodeHealthBoard;
  cfg: IngestConfig;
  metrics: IngestMetricSet;
  log: FastifyBaseLogger;
}

export interface EvaluatedSide extends SideVerdict {
  side: Side;
  node: NodeRow | undefined;
  nodeId: string;
  publisher: PublisherRow | null;
}

const SIDES: Side[] = ['primary', 'backup'];

/** Ingests: routing to nodes, stream keys, stop and kick, status and metrics, manual failover. */
export class IngestService {
  constructor(private readonly d: IngestDeps) {}

  async start(body: StartIngestBody, createdBy: string) {
    const { db, clock, nodes, board } = this.d;
    const sessionStatus = await sessionLookup.status(db, body.session_id);
    if (!sessionStatus) throw notFound('Session', body.session_id);
    if (sessionStatus === 'ended') throw conflict('session_ended', `Session ${body.session_id} has ended; start a new session.`);
    const existing = await repo.openForSession(db, body.session_id);
    if (existing) throw conflict('ingest_exists', `Session ${body.session_id} already has ingest ${existing.id}; stop it first.`, { ingest_id: existing.id });

    await nodes.reload();
    const load = await nodeRepository.openIngestCounts(db);
    const candidates = nodes.all().map((n) => ({ id: n.id, region: n.region, machine: n.machine, status: n.status, health: board.health(n.id).state, capacity: n.capacity, load: load.get(n.id) ?? 0 }));
    const redundant = body.redundant ?? false;
    const picked = route(candidates, { region: body.region, redundant });
    if (!picked.ok) throw new AppError(503, picked.reason, picked.detail);

    const primary = nodes.cached(picked.primary.id)!;
    const backup = picked.backup ? nodes.cached(picked.backup.id)! : null;
    const key = newStreamKey();
    const now = new Date(clock.now());
    const profile = body.quality_profile ?? '720p30';
    const row = await repo
      .insert(db, {
        id: newId('ing', now.getTime()),
        session_id: body.session_id,
        protocol: body.protocol ?? 'rtmp',
        region: body.region ?? null,
        redundant,
        quality_profile: profile,
        primary_node_id: primary.id,
        backup_node_id: backup?.id ?? null,
        reconnect_window_seconds: body.reconnect_window_seconds ?? this.d.cfg.reconnectWindowSeconds,
        created_at: now,
        created_by: createdBy,
      }, hashStreamKey(key))
      .catch((err: unknown) => {
        // Two starts for one session at once: the partial unique index lets one through.
        if ((err as { code?: string }).code === '23505') throw conflict('ingest_exists', `Session ${body.session_id} already has an open ingest.`);
        throw err;
      });
    await this.d.bus.publish('ingest.started', { ingest_id: row.id, session_id: row.session_id, primary_node_id: primary.id, backup_node_id: backup?.id ?? null, at: now.toISOString() });
    const endpoint = (n: NodeRow) => ({ node_id: n.id, url: n.ingest_url, publish_url: `${n.ingest_url}/${key}` });
    return {
      id: row.id,
      session_id: row.session_id,
      status: 'idle' as const,
      stream_key: key,
      primary: endpoint(primary),
      backup: backup ? endpoint(backup) : null,
      encoder_settings: this.target(row),
      quality_profile: profile,
      reconnect_window_seconds: row.reconnect_window_seconds,
      created_at: row.created_at.toISOString(),
    };
  }

  /** Ends the ingest (idempotent) and kicks its publishers: now through the control API where a node has one, else at their next update callback. */
  async stop(ref: { ingest_id?: string; session_id?: string }, reason: string): Promise<IngestStatus> {
    if ((ref.ingest_id === undefined) === (ref.session_id === undefined)) throw badRequest('bad_reference', 'Name the ingest with exactly one of ingest_id or session_id.');
    const { db } = this.d;
    const row = ref.ingest_id ? await repo.get(db, ref.ingest_id) : ((await repo.openForSession(db, ref.session_id!)) ?? (await repo.latestForSession(db, ref.session_id!)));
    if (!row) throw notFound('Ingest', ref.ingest_id ?? `of session ${ref.session_id}`);
    await this.end(row, reason);
    return this.status(row.id);
  }

  /** Ends an ingest if it is open: publishes ingest.ended and kicks through control where possible. */
  async end(row: IngestRow, reason: string): Promise<boolean> {
    const { db, clock, bus } = this.d;
    const publishers = await repo.publishers(db, [row.id]);
    const ended = await repo.end(db, row.id, reason, new Date(clock.now()));
    if (!ended) return false;
    this.d.log.info({ session_id: row.session_id, ingest_id: row.id, reason }, 'ingest ended');
    await bus.publish('ingest.ended', { ingest_id: row.id, session_id: row.session_id, reason, at: ended.ended_at!.toISOString() });
    await Promise.all(publishers.filter((p) => p.state === 'publishing').map((p) => this.kick(p)));
    return true;
  }

  private async kick(p: PublisherRow): Promise<void> {
    const node = this.d.nodes.cached(p.node_id);
    const client = this.d.board.client(p.node_id);
    if (!node?.control_url || !client || node.kind !== 'nginx-rtmp') {
      this.d.metrics.kicks.inc({ via: 'update' });
      return;
    }
    try {
      const dropped = await client.dropPublisher(p.app ?? applicationOf(node.ingest_url), p.stream_name);
      this.d.metrics.kicks.inc({ via: 'control' });
      this.d.log.info({ ingest_id: p.ingest_id, node_id: node.id, dropped }, 'publisher dropped through the control API');
    } catch (err) {
      // The update callback will refuse it within notify_update_timeout.
      this.d.metrics.kicks.inc({ via: 'update' });
      this.d.log.warn({ err, ingest_id: p.ingest_id, node_id: node.id }, 'control drop failed; the next update callback kicks');
    }
  }

  async list(q: ListIngestsQuery): Promise<{ data: IngestSummary[]; next_cursor: string | null }> {
    const rows = await repo.list(this.d.db, q, q.cursor ? decodeCursor(q.cursor, 'ing') : undefined);
    const page = rows.slice(0, q.limit);
    const data = page.map((r) => ({
      id: r.id,
      session_id: r.session_id,
      status: r.status,
      redundant: r.redundant,
      quality_profile: r.quality_profile,
      active_side: r.active_side,
      primary_node_id: r.primary_node_id,
      backup_node_id: r.backup_node_id,
      created_at: r.created_at.toISOString(),
      live_at: r.live_at?.toISOString() ?? null,
      ended_at: r.ended_at?.toISOString() ?? null,
      end_reason: r.end_reason,
    }));
    return { data, next_cursor: rows.length > q.limit ? encodeCursor(page[page.length - 1]!.id) : null };
  }

  async get(id: string): Promise<IngestRow> {
    const row = await repo.get(this.d.db, id);
    if (!row) throw notFound('Ingest', id);
    return row;
  }

  /** Every side with its state, from publishers, node health and stats. */
  evaluate(row: IngestRow, publishers: PublisherRow[]): EvaluatedSide[] {
    const now = this.d.clock.now();
    const out: EvaluatedSide[] = [];
    for (const side of SIDES) {
      const nodeId = side === 'primary' ? row.primary_node_id : row.backup_node_id;
      if (!nodeId) continue;
      const node = this.d.nodes.cached(nodeId);
      const publisher = publishers.find((p) => p.ingest_id === row.id && p.side === side) ?? null;
      const health = this.d.board.health(nodeId);
      const sample = publisher && node ? this.d.board.stream(nodeId, publisher.app ?? applicationOf(node.ingest_url), publisher.stream_name) : undefined;
      const verdict = evaluateSide({
        publisher,
        nodeHealth: health.state,
        healthCheckedAt: health.checkedAt,
        statsAuthoritative: health.state === 'up' && health.checkedAt !== null && now - health.checkedAt < this.d.cfg.statsPollMs * 3,
        sample,
        now,
        stallMs: this.d.cfg.stallMs,
        appearGraceMs: Math.max(this.d.cfg.stallMs, this.d.cfg.statsPollMs * 3),
        publisherTimeoutMs: this.d.cfg.publisherTimeoutMs,
      });
      out.push({ side, node, nodeId, publisher, ...verdict });
    }
    return out;
  }

  async status(id: string): Promise<IngestStatus> {
    const row = await this.get(id);
    const [publishers, failovers] = await Promise.all([repo.publishers(this.d.db, [id]), repo.failovers(this.d.db, id)]);
    const sides = this.evaluate(row, publishers);
    const view = (s: EvaluatedSide | undefined) => {
      if (!s) return null;
      const p = s.publisher;
      const sample = p && s.node ? this.d.board.stream(s.nodeId, p.app ?? applicationOf(s.node.ingest_url), p.stream_name) : undefined;
      return {
        node_id: s.nodeId,
        node_name: s.node?.name ?? '(deleted)',
        state: row.status === 'ended' && s.state !== 'idle' ? ('down' as const) : s.state,
        node_health: this.d.board.health(s.nodeId).state,
        publisher: p ? { client_id: p.client_id, addr: p.addr, state: p.state, started_at: p.started_at.toISOString(), last_seen_at: p.last_seen_at.toISOString(), ended_at: p.ended_at?.toISOString() ?? null, end_reason: p.end_reason } : null,
        bytes_in: sample ? sample.stats.bytesIn : null,
        bitrate_kbps: sample?.bitrateBps != null ? Math.round(sample.bitrateBps / 100) / 10 : null,
        playback_origin: this.origin(s.node, row),
      };
    };
    const active = sides.find((s) => s.side === row.active_side)!;
    return {
      id: row.id,
      session_id: row.session_id,
      status: row.status,
      redundant: row.redundant,
      quality_profile: row.quality_profile,
      active_side: row.active_side,
      active_node_id: active.nodeId,
      playback_origin: this.origin(active.node, row),
      sides: { primary: view(sides.find((s) => s.side === 'primary'))!, backup: view(sides.find((s) => s.side === 'backup')) },
      failovers: failovers.map((f) => ({ at: f.at.toISOString(), from_side: f.from_side, to_side: f.to_side, reason: f.reason, manual: f.manual })),
      reconnect_window_seconds: row.reconnect_window_seconds,
      reconnect_deadline: row.status === 'reconnecting' && row.disconnected_at ? new Date(row.disconnected_at.getTime() + row.reconnect_window_seconds * 1000).toISOString() : null,
      created_at: row.created_at.toISOString(),
      live_at: row.live_at?.toISOString() ?? null,
      ended_at: row.ended_at?.toISOString() ?? null,
      end_reason: row.end_reason,
    };
  }

  /** Switches the active side by hand; 409 unless the other side is receiving. */
  async manualFailover(id: string): Promise<IngestStatus> {
    const row = await this.get(id);
    if (!row.redundant || !row.backup_node_id) throw conflict('not_redundant', `Ingest ${id} has no backup side.`);
    if (row.status === 'ended') throw conflict('ingest_ended', `Ingest ${id} has ended.`);
    const sides = this.evaluate(row, await repo.publishers(this.d.db, [id]));
    const to: Side = row.active_side === 'primary' ? 'backup' : 'primary';
    const target = sides.find((s) => s.side === to)!;
    if (target.state !== 'receiving') throw conflict('other_side_unhealthy', `The ${to} side is ${target.state}; failing over to it would interrupt the stream.`, { side: to, state: target.state });
    await this.switchSide(row, to, 'manual', true);
    return this.status(id);
  }

  /** Compare-and-set switch; publishes ingest.failover when this call made it. */
  async switchSide(row: IngestRow, to: Side, reason: string, manual: boolean): Promise<boolean> {
    const from: Side = to === 'primary' ? 'backup' : 'primary';
    const now = new Date(this.d.clock.now());
    if (!(await repo.failover(this.d.db, row.id, from, to, reason, manual, now))) return false;
    this.d.metrics.failovers.inc({ manual: String(manual), reason });
    const toNode = to === 'primary' ? row.primary_node_id : row.backup_node_id;
    this.d.log.info({ session_id: row.session_id, ingest_id: row.id, from, to, reason, manual }, 'ingest failover');
    await this.d.bus.publish('ingest.failover', {
      ingest_id: row.id,
      session_id: row.session_id,
      from_side: from,
      to_side: to,
      from_node_id: (from === 'primary' ? row.primary_node_id : row.backup_node_id) ?? '',
      to_node_id: toNode,
      reason,
      manual,
      at: now.toISOString(),
    });
    return true;
  }

  async metrics(id: string, sideAsked?: Side): Promise<IngestMetrics> {
    const row = await this.get(id);
    const side = sideAsked ?? row.active_side;
    if (side === 'backup' && !row.backup_node_id) throw badRequest('no_backup', `Ingest ${id} has no backup side.`);
    const ev = this.evaluate(row, await repo.publishers(this.d.db, [id])).find((s) => s.side === side)!;
    const p = ev.publisher;
    const sample = p && ev.node && p.state === 'publishing' ? this.d.board.stream(ev.nodeId, p.app ?? applicationOf(ev.node.ingest_url), p.stream_name) : undefined;
    const target = this.target(row);
    const q = assessQuality(sample, target, { now: this.d.clock.now(), stalled: ev.state === 'stalled' });
    const s = sample?.stats;
    const kbps = (bps: number | undefined | null) => (bps == null ? null : Math.round(bps / 100) / 10);
    return {
      id: row.id,
      side,
      node_id: ev.nodeId,
      measured: {
        bitrate_kbps: kbps(sample?.bitrateBps),
        video_bitrate_kbps: s?.bwVideoBitsPerSecond ? kbps(s.bwVideoBitsPerSecond) : null,
        audio_bitrate_kbps: s?.bwAudioBitsPerSecond ? kbps(s.bwAudioBitsPerSecond) : null,
        frame_rate: s?.video?.frameRate ?? null,
        width: s?.video?.width ?? null,
        height: s?.video?.height ?? null,
        video_codec: s?.video?.codec ?? null,
        audio_codec: s?.audio?.codec ?? null,
        bytes_in: s?.bytesIn ?? null,
        dropped_frames: s?.publisher?.dropped ?? null,
        uptime_seconds: p && p.state === 'publishing' ? Math.round((this.d.clock.now() - p.started_at.getTime()) / 100) / 10 : null,
      },
      target,
      health: { score: q.score, issues: q.issues },
      profile_violations: q.violations,
      recommendation: q.recommendation,
    };
  }

  async rotateKey(id: string, overlapSeconds: number | undefined): Promise<{ stream_key: string; previous_keys_expire_at: string }> {
    const row = await this.get(id);
    if (row.status === 'ended') throw conflict('ingest_ended', `Ingest ${id} has ended.`);
    const key = newStreamKey();
    const now = this.d.clock.now();
    const until = new Date(now + (overlapSeconds ?? this.d.cfg.keyOverlapSeconds) * 1000);
    await repo.rotateKey(this.d.db, id, hashStreamKey(key), until, new Date(now));
    await this.d.bus.publish('ingest.keys_changed', { ingest_id: id, at: new Date(now).toISOString() });
    return { stream_key: key, previous_keys_expire_at: until.toISOString() };
  }

  /** Revokes every key of the ingest: new publishes are refused and live publishers are kicked at their next update. */
  async revokeKeys(id: string): Promise<{ revoked: number }> {
    await this.get(id);
    const revoked = await repo.revokeKeys(this.d.db, id, new Date(this.d.clock.now()));
    await this.d.bus.publish('ingest.keys_changed', { ingest_id: id, at: new Date(this.d.clock.now()).toISOString() });
    return { revoked };
  }

  target(row: IngestRow): EncoderSettings {
    const limits = [row.primary_node_id, row.backup_node_id].flatMap((id) => (id ? [this.d.nodes.cached(id)?.limits ?? {}] : []));
    return encoderSettings(row.quality_profile, limits);
  }

  private origin(node: NodeRow | undefined, row: IngestRow): string {
    return node ? `${node.ingest_url}/${row.session_id}` : '';
  }
}
