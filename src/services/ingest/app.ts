import { fileURLToPath } from 'node:url';
import { Type } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import type { FastifyPluginAsync, onRequestAsyncHookHandler } from 'fastify';
import type { Registry } from 'prom-client';
import type { IngestConfig } from '../../config/config.js';
import type { Backends, TimerHandle, Unsubscribe } from '../../core/ports/index.js';
import { hookRoutes } from './hooks/hook.routes.js';
import { HookService } from './hooks/hook.service.js';
import { createIngestMetrics } from './ingest.metrics.js';
import { ingestRoutes } from './ingests/ingest.routes.js';
import { IngestService } from './ingests/ingest.service.js';
import { IngestMonitor } from './monitor/ingest.monitor.js';
import { NodeHealthBoard } from './monitor/node-health.board.js';
import { HookSecrets } from './nodes/hook-secret.js';
import { nodeRoutes } from './nodes/node.routes.js';
import { RegisterNodeBody } from './nodes/node.schemas.js';
import { NodeService, readNodesFile } from './nodes/node.service.js';

export const ingestMigrationsDir = fileURLToPath(new URL('./migrations/', import.meta.url));

export interface IngestServiceOptions {
  backends: Backends;
  config: IngestConfig;
  registry: Registry;
  operator: onRequestAsyncHookHandler;
}

/**
 * The ingest service: media-server nodes, routing of encoders to a primary and a backup node, stream
 * keys, media-server callbacks, health from stats, failover and reconnect windows. This file is its
 * table of contents.
 */
export const ingestService: FastifyPluginAsync<IngestServiceOptions> = async (app, { backends, config: cfg, registry, operator }) => {
  const { database: db, bus, clock, rateLimits } = backends;
  const log = app.log.child({ service: 'ingest' });
  const metrics = createIngestMetrics(registry, db);

  const board = new NodeHealthBoard(clock, {
    timeoutMs: cfg.nodeTimeoutMs,
    downAfterFailures: cfg.nodeDownAfterFailures,
    pollMs: cfg.statsPollMs,
    onPoll: (_id, ok, seconds) => metrics.nodePolls.observe({ outcome: ok ? 'ok' : 'error' }, seconds),
  });
  const secrets = await HookSecrets.load(db, cfg.hookKey);
  const nodes = new NodeService({ db, bus, clock, secrets, hookBaseUrl: cfg.hookBaseUrl, healthOf: (id) => board.health(id) });
  if (cfg.nodesFile) await nodes.applyFile(await validNodesFile(cfg.nodesFile));
  await nodes.reload();
  board.sync(nodes.all());

  const ingests = new IngestService({ db, bus, clock, nodes, board, cfg, metrics, log });
  const hooks = new HookService({ db, bus, clock, rateLimits, cfg, metrics, log });
  const monitor = new IngestMonitor({ db, bus, clock, cfg, ingests, log, onClosed: (id) => hooks.forgetIngest(id) });

  const report = (what: string) => (err: unknown) => log.warn({ err }, what);
  const refreshNodes = () => nodes.reload().then(() => board.sync(nodes.all()), report('node table reload failed'));
  const subscriptions: Unsubscribe[] = [
    await bus.subscribe('ingest_node.changed', refreshNodes),
    await bus.subscribe('ingest.keys_changed', (e) => hooks.forgetIngest(e.ingest_id)),
    await bus.subscribe('ingest.ended', (e) => hooks.forgetIngest(e.ingest_id)),
    // sessions/stop ends the session's ingest and kicks its publisher.
    await bus.subscribe('session.ended', async (e) => {
      await ingests.stop({ session_id: e.session_id }, 'session_ended').catch(() => {});
    }),
  ];
  const timers: TimerHandle[] = [
    clock.setInterval(() => void board.pollAll().catch(report('node poll failed')), cfg.statsPollMs),
    clock.setInterval(() => void monitor.tick().catch(report('ingest monitor pass failed')), cfg.monitorMs),
    // The Bus is at-most-once: a node registered elsewhere whose event was lost still shows up.
    clock.setInterval(() => void refreshNodes(), 30_000),
  ];
  app.addHook('onClose', async () => {
    for (const t of timers) t.cancel();
    await Promise.all(subscriptions.map((u) => u().catch(() => {})));
    board.close();
  });

  await app.register(nodeRoutes, { nodes, operator });
  await app.register(ingestRoutes, { ingests, operator });
  await app.register(hookRoutes, { nodes, hooks, metrics, bodyLimit: cfg.hookBodyLimitBytes });
};

/** The nodes file must be an array of node registrations with unique names; any problem stops the start with the entry named. */
async function validNodesFile(path: string): Promise<RegisterNodeBody[]> {
  let data: unknown;
  try {
    data = await readNodesFile(path);
  } catch (err) {
    throw new Error(`STREAMPLANE_INGEST_NODES_FILE ${path}: ${err instanceof Error ? err.message : String(err)}`);
  }
  const schema = Type.Array(RegisterNodeBody, { maxItems: 10_000 });
  const problems = [...Value.Errors(schema, data)].slice(0, 10).map((e) => `${e.path || '/'}: ${e.message}`);
  if (problems.length) throw new Error(`STREAMPLANE_INGEST_NODES_FILE ${path}: ${problems.join('; ')}`);
  const entries = data as RegisterNodeBody[];
  const names = entries.map((e) => e.name);
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup) throw new Error(`STREAMPLANE_INGEST_NODES_FILE ${path}: node name ${dup} appears twice`);
  return entries;
}
