import { readFile } from 'node:fs/promises';
import { AppError, badRequest, conflict, notFound } from '../../../core/errors.js';
import { newId } from '../../../core/ids.js';
import type { Bus, Clock, Database } from '../../../core/ports/index.js';
import { adapterFor } from '../media-servers/index.js';
import type { HookSecrets } from './hook-secret.js';
import { nodeRepository as repo, type NodeFields, type NodeRow } from './node.repository.js';
import type { IngestNode, RegisterNodeBody } from './node.schemas.js';

export interface NodeHealth {
  state: 'up' | 'down' | 'unknown';
  checkedAt: number | null;
  detail: string | null;
}

interface Deps {
  db: Database;
  bus: Bus;
  clock: Clock;
  secrets: HookSecrets;
  hookBaseUrl: string;
  healthOf: (nodeId: string) => NodeHealth;
}

/** A cache miss reloads the node table at most this often (a node registered on another instance whose event was lost). */
const MISS_RELOAD_MS = 1_000;

/**
 * Ingest nodes: registration, drain, delete, hook URLs. Every instance keeps the whole node table in
 * memory (nodes are few and every callback needs one), reloaded on `ingest_node.changed` and on a miss.
 */
export class NodeService {
  private nodes = new Map<string, NodeRow>();
  private lastMissReload = 0;
  private reloadsStarted = 0;
  private reloadApplied = 0;

  constructor(private readonly d: Deps) {}

  /** Reloads the table; of overlapping reloads, the one started last wins (an older read must not undo a newer one). */
  async reload(): Promise<void> {
    const seq = ++this.reloadsStarted;
    const rows = await repo.all(this.d.db);
    if (seq < this.reloadApplied) return;
    this.reloadApplied = seq;
    this.nodes = new Map(rows.map((r) => [r.id, r]));
  }

  cached(id: string): NodeRow | undefined {
    return this.nodes.get(id);
  }

  all(): NodeRow[] {
    return [...this.nodes.values()];
  }

  /** The node a callback URL names, when its secret matches; null otherwise (constant-time compare). */
  async authenticateHook(nodeId: string, secret: string): Promise<NodeRow | null> {
    let node = this.nodes.get(nodeId);
    if (!node && this.d.clock.now() - this.lastMissReload >= MISS_RELOAD_MS) {
      this.lastMissReload = this.d.clock.now();
      await this.reload();
      node = this.nodes.get(nodeId);
    }
    if (!node) return null;
    return this.d.secrets.verify(node.id, node.secret_version, secret) ? node : null;
  }

  secretOf(node: NodeRow): string {
    return this.d.secrets.secretFor(node.id, node.secret_version);
  }

  hooks(node: NodeRow): Record<string, string> {
    const base = `${this.d.hookBaseUrl}/api/v1/ingest/hooks/${node.id}/${this.secretOf(node)}`;
    return Object.fromEntries(adapterFor(node.kind).hooks.map((h) => [h, `${base}/${h}`]));
  }

  async register(body: RegisterNodeBody): Promise<IngestNode> {
    checkSupported(body);
    const now = new Date(this.d.clock.now());
    const row = await repo.insert(this.d.db, newId('nd', now.getTime()), fields(body), now).catch((err: unknown) => {
      throw uniqueName(err, body.name);
    });
    await this.changed(row);
    return this.view(row);
  }

  /** Read from the database, not the cache: a reload racing a delete may briefly hold a deleted node. */
  async get(id: string): Promise<IngestNode> {
    return this.view(await this.row(id));
  }

  async row(id: string): Promise<NodeRow> {
    const row = await repo.get(this.d.db, id);
    if (!row) throw notFound('Ingest node', id);
    return row;
  }

  async list(): Promise<IngestNode[]> {
    await this.reload();
    const counts = await repo.openIngestCounts(this.d.db);
    // Lists leave the secret-bearing hook URLs out: they are for one node's configuration.
    return this.all().map((r) => {
      const { hooks: _secret, ...rest } = this.viewWith(r, counts.get(r.id) ?? 0);
      return rest;
    });
  }

  async setStatus(id: string, status: NodeRow['status']): Promise<IngestNode> {
    const row = await repo.setStatus(this.d.db, id, status, new Date(this.d.clock.now()));
    if (!row) throw notFound('Ingest node', id);
    await this.changed(row);
    return this.view(row);
  }

  /** A new secret: the old hook URLs stop working at once, so update the media server's config right after. */
  async rotateSecret(id: string): Promise<IngestNode> {
    const row = await repo.bumpSecret(this.d.db, id, new Date(this.d.clock.now()));
    if (!row) throw notFound('Ingest node', id);
    await this.changed(row);
    return this.view(row);
  }

  async delete(id: string): Promise<void> {
    const outcome = await repo.softDelete(this.d.db, id, new Date(this.d.clock.now()));
    if (outcome === 'missing') throw notFound('Ingest node', id);
    if (outcome === 'in_use') throw conflict('node_in_use', `Ingest node ${id} still serves ingests that have not ended; drain it and wait for them to end.`);
    this.nodes.delete(id);
    await this.d.bus.publish('ingest_node.changed', { node_id: id, at: new Date(this.d.clock.now()).toISOString() });
  }

  /**
   * Registers or updates (by name) the nodes listed in a JSON file: an array of node registrations.
   * Validation is the caller's (the same schema as the API); this only applies them.
   */
  async applyFile(entries: RegisterNodeBody[]): Promise<number> {
    entries.forEach(checkSupported);
    const now = new Date(this.d.clock.now());
    for (const e of entries) {
      const f = fields(e);
      const row = (await repo.updateByName(this.d.db, f, now)) ?? (await repo.insert(this.d.db, newId('nd', now.getTime()), f, now));
      await this.changed(row);
    }
    return entries.length;
  }

  async view(row: NodeRow): Promise<IngestNode> {
    const counts = await repo.openIngestCounts(this.d.db);
    return this.viewWith(row, counts.get(row.id) ?? 0);
  }

  private viewWith(r: NodeRow, open: number): IngestNode {
    const h = this.d.healthOf(r.id);
    return {
      id: r.id,
      name: r.name,
      kind: r.kind,
      region: r.region,
      machine: r.machine,
      ingest_url: r.ingest_url,
      stats_url: r.stats_url,
      control_url: r.control_url,
      capacity: r.capacity,
      limits: r.limits,
      status: r.status,
      health: { state: h.state, checked_at: h.checkedAt === null ? null : new Date(h.checkedAt).toISOString(), detail: h.detail },
      open_ingests: open,
      hooks: this.hooks(r),
      created_at: r.created_at.toISOString(),
      updated_at: r.updated_at.toISOString(),
    };
  }

  private async changed(row: NodeRow) {
    this.nodes.set(row.id, row);
    await this.d.bus.publish('ingest_node.changed', { node_id: row.id, at: new Date(this.d.clock.now()).toISOString() });
  }
}

export async function readNodesFile(path: string): Promise<unknown> {
  return JSON.parse(await readFile(path, 'utf8')) as unknown;
}

function fields(b: RegisterNodeBody): NodeFields {
  return {
    name: b.name,
    kind: b.kind,
    region: b.region,
    machine: b.machine ?? new URL(b.ingest_url.replace(/^[a-z]+:/, 'http:')).hostname,
    ingest_url: b.ingest_url.replace(/\/+$/, ''),
    stats_url: b.stats_url ?? null,
    control_url: b.control_url?.replace(/\/+$/, '') ?? null,
    capacity: b.capacity ?? 100,
    limits: b.limits ?? {},
  };
}

/** What the stats client cannot do for a kind is refused at registration, not discovered as a node that is always down. */
function checkSupported(b: RegisterNodeBody) {
  if (b.kind === 'ome' && b.stats_url) throw badRequest('stats_not_supported', `OvenMediaEngine has no list-all-streams stats endpoint; register node ${JSON.stringify(b.name)} without stats_url (health then follows its callbacks).`);
  if (b.kind !== 'nginx-rtmp' && b.control_url) throw badRequest('control_not_supported', `Only nginx-rtmp nodes are kicked through a control URL; register node ${JSON.stringify(b.name)} without control_url (kicks happen at its next callback).`);
}

function uniqueName(err: unknown, name: string): unknown {
  if ((err as { code?: string }).code === '23505') return new AppError(409, 'node_name_taken', `An ingest node named ${JSON.stringify(name)} already exists.`);
  return err;
}
