import type { Command } from 'commander';
import type { components, paths } from '../../../sdk/src/api-types.js';
import { usageError } from '../errors.js';
import { integer } from '../parsers.js';
import { keyValues, table } from '../output.js';
import type { CommandDeps } from './deps.js';

type IngestNode = components['schemas']['IngestNode'];
type StartedIngest = components['schemas']['StartedIngest'];
type IngestStatus = components['schemas']['IngestStatus'];
type IngestMetrics = components['schemas']['IngestMetrics'];
type EncoderSettings = StartedIngest['encoder_settings'];
type SideStatus = NonNullable<IngestStatus['sides']['backup']>;
type NodeBody = paths['/api/v1/ingest/nodes']['post']['requestBody']['content']['application/json'];
type StartBody = paths['/api/v1/ingest/start']['post']['requestBody']['content']['application/json'];
type MetricsQuery = NonNullable<paths['/api/v1/ingest/{id}/metrics']['get']['parameters']['query']>;

interface CreateNodeOptions {
  name: string;
  kind: string;
  region: string;
  ingestUrl: string;
  statsUrl?: string;
  controlUrl?: string;
  capacity?: number;
  machine?: string;
  maxBitrateKbps?: number;
  maxHeight?: number;
  maxFps?: number;
}

interface StartOptions {
  session: string;
  region?: string;
  redundant?: boolean;
  profile?: string;
  reconnectWindow?: number;
}

const NODE_ID = 'ingest node id (nd_…)';
const INGEST_ID = 'ingest id (ing_…), as printed by `ingest start`';
// Kinds, profiles and sides are listed for the reader but judged by the server (see parsers.ts).
const HOOKS_NOTE = 'The hook URLs carry the node secret: paste them into the media server\'s configuration (for nginx-rtmp, `streamplane ingest nodes config <id>` writes the block) and keep them private.\n';
const KEY_NOTE = 'Store this stream key now: it is not shown again (only its hash is kept).\n';

export function registerIngest(program: Command, { context }: CommandDeps): void {
  const ingest = program.command('ingest').description('Ingest: media-server nodes, encoder routing, stream keys and failover');
  const nodes = ingest.command('nodes').description('Ingest nodes (the media servers encoders publish to)');

  nodes
    .command('create')
    .description('Register a media server as an ingest node (prints the hook URLs for its configuration)')
    .requiredOption('--name <name>', 'unique node name, e.g. edge-eu-1')
    .requiredOption('--kind <kind>', 'nginx-rtmp, srs, ome or mediamtx')
    .requiredOption('--region <region>', 'e.g. eu-west-1')
    .requiredOption('--ingest-url <url>', 'where encoders publish, with the application, e.g. rtmp://10.0.0.5:1935/live')
    .option('--stats-url <url>', 'stats page polled for health and bitrate (nginx-rtmp: http://host:8080/stat)')
    .option('--control-url <url>', 'nginx-rtmp rtmp_control location, used to drop publishers')
    .option('--capacity <n>', 'live streams the node takes (server default 100)', integer)
    .option('--machine <machine>', 'host the node runs on; primary and backup never share one (default: the ingest URL host)')
    .option('--max-bitrate-kbps <n>', 'highest video bitrate the node accepts', integer)
    .option('--max-height <n>', 'highest video height (lines)', integer)
    .option('--max-fps <n>', 'highest frame rate', integer)
    .action(async (opts: CreateNodeOptions, cmd: Command) => {
      const ctx = context(cmd);
      const limits = {
        ...(opts.maxBitrateKbps !== undefined ? { max_bitrate_kbps: opts.maxBitrateKbps } : {}),
        ...(opts.maxHeight !== undefined ? { max_height: opts.maxHeight } : {}),
        ...(opts.maxFps !== undefined ? { max_fps: opts.maxFps } : {}),
      };
      const body: NodeBody = {
        name: opts.name,
        kind: opts.kind as NodeBody['kind'],
        region: opts.region,
        ingest_url: opts.ingestUrl,
        ...(opts.statsUrl !== undefined ? { stats_url: opts.statsUrl } : {}),
        ...(opts.controlUrl !== undefined ? { control_url: opts.controlUrl } : {}),
        ...(opts.capacity !== undefined ? { capacity: opts.capacity } : {}),
        ...(opts.machine !== undefined ? { machine: opts.machine } : {}),
        ...(Object.keys(limits).length > 0 ? { limits } : {}),
      };
      const node = await ctx.call(ctx.api.POST('/api/v1/ingest/nodes', { body }));
      ctx.print(node, () => nodeDetails(node));
      // stderr, so the warning stays on screen even when stdout goes to a file.
      if (!ctx.json) ctx.io.err(HOOKS_NOTE);
    });

  nodes
    .command('list')
    .description('List ingest nodes with their health and load')
    .action(async (_opts: object, cmd: Command) => {
      const ctx = context(cmd);
      const list = await ctx.call(ctx.api.GET('/api/v1/ingest/nodes'));
      ctx.print(list, () => (list.data.length === 0 ? 'No ingest nodes.\n' : nodeTable(list.data)));
    });

  nodes
    .command('get')
    .description('An ingest node, with its hook URLs')
    .argument('<id>', NODE_ID)
    .action(async (id: string, _opts: object, cmd: Command) => {
      const ctx = context(cmd);
      const node = await ctx.call(ctx.api.GET('/api/v1/ingest/nodes/{id}', { params: { path: { id } } }));
      ctx.print(node, () => nodeDetails(node));
    });

  for (const [name, description] of [
    ['drain', 'Take no new ingests on this node (running ones go on)'],
    ['undrain', 'Take new ingests on this node again'],
  ] as const) {
    nodes
      .command(name)
      .description(description)
      .argument('<id>', NODE_ID)
      .action(async (id: string, _opts: object, cmd: Command) => {
        const ctx = context(cmd);
        const node = await ctx.call(ctx.api.POST(`/api/v1/ingest/nodes/{id}/${name}`, { params: { path: { id } }, body: {} }));
        ctx.print(node, () => nodeDetails(node));
      });
  }

  nodes
    .command('delete')
    .description('Delete an ingest node (refused with exit 6 while ingests that have not ended use it)')
    .argument('<id>', NODE_ID)
    .action(async (id: string, _opts: object, cmd: Command) => {
      const ctx = context(cmd);
      await ctx.call(ctx.api.DELETE('/api/v1/ingest/nodes/{id}', { params: { path: { id } } }));
      // The API answers 204 with no document, so --json prints nothing: the exit code says it worked.
      if (!ctx.json) ctx.io.out(`Deleted ingest node ${id}\n`);
    });

  nodes
    .command('rotate-secret')
    .description('New hook secret for a node: its old hook URLs stop working at once')
    .argument('<id>', NODE_ID)
    .action(async (id: string, _opts: object, cmd: Command) => {
      const ctx = context(cmd);
      const node = await ctx.call(ctx.api.POST('/api/v1/ingest/nodes/{id}/rotate-secret', { params: { path: { id } }, body: {} }));
      ctx.print(node, () => nodeDetails(node));
      if (!ctx.json) ctx.io.err(`The old hook URLs stopped working: update the media server's configuration now.\n${HOOKS_NOTE}`);
    });

  nodes
    .command('config')
    .description('Print a ready nginx-rtmp `application` block for the node (its hook URLs carry the node secret)')
    .argument('<id>', NODE_ID)
    .option('--update-interval <seconds>', 'notify_update_timeout: how often nginx re-authorizes a live stream (server default 10)', integer)
    .action(async (id: string, opts: { updateInterval?: number }, cmd: Command) => {
      const ctx = context(cmd);
      const query = opts.updateInterval !== undefined ? { update_interval_seconds: opts.updateInterval } : undefined;
      const text = await ctx.call(ctx.api.GET('/api/v1/ingest/nodes/{id}/config/nginx', { params: { path: { id }, query }, parseAs: 'text' }));
      // The document is text: --json prints it as one JSON string (`jq -r .` gives the text back).
      ctx.print(text, () => text);
    });

  ingest
    .command('start')
    .description('Route a session\'s encoder to a node (and a backup) and issue its stream key (shown once)')
    .requiredOption('--session <id>', 'session id (ses_…)')
    .option('--region <region>', 'preferred region; nodes elsewhere are used when none there can take it')
    .option('--redundant', 'also assign a backup node on another machine; the encoder pushes to both')
    .option('--profile <profile>', '480p30, 720p30, 720p60, 1080p30 or 1080p60 (default: the server\'s)')
    .option('--reconnect-window <seconds>', 'how long the session waits for a lost publisher (default: the server\'s)', integer)
    .action(async (opts: StartOptions, cmd: Command) => {
      const ctx = context(cmd);
      const body: StartBody = {
        session_id: opts.session,
        ...(opts.region !== undefined ? { region: opts.region } : {}),
        ...(opts.redundant ? { redundant: true } : {}),
        ...(opts.profile !== undefined ? { quality_profile: opts.profile as StartBody['quality_profile'] } : {}),
        ...(opts.reconnectWindow !== undefined ? { reconnect_window_seconds: opts.reconnectWindow } : {}),
      };
      const started = await ctx.call(ctx.api.POST('/api/v1/ingest/start', { body }));
      ctx.print(started, () => startedDetails(started));
      if (!ctx.json) ctx.io.err(`${KEY_NOTE}Encoders that take a single URL: the server URL, a slash, then the stream key.\n`);
    });

  ingest
    .command('stop')
    .description('End an ingest (idempotent) and kick its publisher; its session ends too')
    .option('--id <id>', INGEST_ID)
    .option('--session <id>', 'or the session id (ses_…) it belongs to')
    .option('--reason <reason>', 'recorded as end_reason')
    .action(async (opts: { id?: string; session?: string; reason?: string }, cmd: Command) => {
      if ((opts.id === undefined) === (opts.session === undefined)) throw usageError('give exactly one of --id <ingest id> or --session <session id>.');
      const ctx = context(cmd);
      const body = {
        ...(opts.id !== undefined ? { ingest_id: opts.id } : { session_id: opts.session }),
        ...(opts.reason !== undefined ? { reason: opts.reason } : {}),
      };
      const status = await ctx.call(ctx.api.POST('/api/v1/ingest/stop', { body }));
      ctx.print(status, () => statusDetails(status));
    });

  ingest
    .command('list')
    .description('List ingests, newest first (by session, status or node)')
    .option('--session <id>', 'only this session\'s ingests')
    .option('--status <status>', 'idle, live, reconnecting or ended')
    .option('--node <id>', 'only ingests using this node')
    .option('--limit <n>', 'ingests per page (server default 20, at most 100)', integer)
    .option('--cursor <cursor>', 'next_cursor of the previous page')
    .action(async (opts: { session?: string; status?: string; node?: string; limit?: number; cursor?: string }, cmd: Command) => {
      const ctx = context(cmd);
      const query = {
        ...(opts.session !== undefined ? { session_id: opts.session } : {}),
        ...(opts.status !== undefined ? { status: opts.status } : {}),
        ...(opts.node !== undefined ? { node_id: opts.node } : {}),
        ...(opts.limit !== undefined ? { limit: opts.limit } : {}),
        ...(opts.cursor !== undefined ? { cursor: opts.cursor } : {}),
      } as paths['/api/v1/ingest']['get']['parameters']['query']; // limit has a server-side default, which the generated type reads as required.
      const page = await ctx.call(ctx.api.GET('/api/v1/ingest', { params: { query } }));
      ctx.print(page, () =>
        page.data.length === 0
          ? 'No ingests.\n'
          : table(['id', 'session', 'status', 'active', 'primary', 'backup', 'created'], page.data.map((i) => [i.id, i.session_id, i.status, i.active_side, i.primary_node_id, i.backup_node_id ?? '-', i.created_at])),
      );
      if (!ctx.json && page.next_cursor) ctx.io.err(`More ingests: add --cursor ${page.next_cursor}\n`);
    });

  ingest
    .command('status')
    .description('Each side\'s state and bitrate, the active side and node, failover history')
    .argument('<id>', INGEST_ID)
    .action(async (id: string, _opts: object, cmd: Command) => {
      const ctx = context(cmd);
      const status = await ctx.call(ctx.api.GET('/api/v1/ingest/{id}/status', { params: { path: { id } } }));
      ctx.print(status, () => statusDetails(status));
    });

  ingest
    .command('failover')
    .description('Switch the active side by hand (refused with exit 6 unless the other side is receiving)')
    .argument('<id>', INGEST_ID)
    .action(async (id: string, _opts: object, cmd: Command) => {
      const ctx = context(cmd);
      const status = await ctx.call(ctx.api.POST('/api/v1/ingest/{id}/failover', { params: { path: { id } }, body: {} }));
      ctx.print(status, () => statusDetails(status));
    });

  ingest
    .command('metrics')
    .description('Measured bitrate, frame rate and resolution against the target, health score and a recommendation')
    .argument('<id>', INGEST_ID)
    .option('--side <side>', 'primary or backup (default: the active side)')
    .action(async (id: string, opts: { side?: string }, cmd: Command) => {
      const ctx = context(cmd);
      const query = opts.side !== undefined ? { side: opts.side as MetricsQuery['side'] } : undefined;
      const metrics = await ctx.call(ctx.api.GET('/api/v1/ingest/{id}/metrics', { params: { path: { id }, query } }));
      ctx.print(metrics, () => metricsDetails(metrics));
    });

  ingest
    .command('rotate-key')
    .description('Issue a new stream key (shown once); the old ones keep working for the overlap')
    .argument('<id>', INGEST_ID)
    .option('--overlap <seconds>', 'how long the old keys keep working (default: the server\'s)', integer)
    .action(async (id: string, opts: { overlap?: number }, cmd: Command) => {
      const ctx = context(cmd);
      const body = opts.overlap !== undefined ? { overlap_seconds: opts.overlap } : {};
      const rotated = await ctx.call(ctx.api.POST('/api/v1/ingest/{id}/stream-key/rotate', { params: { path: { id } }, body }));
      ctx.print(rotated, () => keyValues([['stream_key', rotated.stream_key], ['previous_keys_expire_at', rotated.previous_keys_expire_at]]));
      if (!ctx.json) ctx.io.err(KEY_NOTE);
    });

  ingest
    .command('revoke-keys')
    .description('Revoke every stream key of an ingest; a live publisher is kicked at its next update')
    .argument('<id>', INGEST_ID)
    .action(async (id: string, _opts: object, cmd: Command) => {
      const ctx = context(cmd);
      const revoked = await ctx.call(ctx.api.POST('/api/v1/ingest/{id}/stream-key/revoke', { params: { path: { id } }, body: {} }));
      ctx.print(revoked, () => `Revoked ${revoked.revoked} stream key${revoked.revoked === 1 ? '' : 's'} of ingest ${id}; a live publisher is kicked at its next update.\n`);
    });
}

function nodeDetails(n: IngestNode): string {
  const limits = [
    n.limits.max_bitrate_kbps !== undefined ? `${n.limits.max_bitrate_kbps} kbps` : null,
    n.limits.max_height !== undefined ? `${n.limits.max_height} lines` : null,
    n.limits.max_fps !== undefined ? `${n.limits.max_fps} fps` : null,
  ].filter(Boolean);
  const hooks = Object.entries(n.hooks ?? {});
  return (
    keyValues([
      ['id', n.id],
      ['name', n.name],
      ['kind', n.kind],
      ['region', n.region],
      ['machine', n.machine],
      ['status', n.status],
      ['health', health(n.health)],
      ['load', `${n.open_ingests} of ${n.capacity} streams`],
      ['limits', limits.length > 0 ? `at most ${limits.join(', ')}` : null],
      ['ingest_url', n.ingest_url],
      ['stats_url', n.stats_url],
      ['control_url', n.control_url],
      ['created_at', n.created_at],
    ]) +
    (hooks.length === 0 ? '' : `hooks (they carry the node secret):\n${indent(keyValues(hooks))}`)
  );
}

function health(h: IngestNode['health']): string {
  return [h.state, h.checked_at ? `checked ${h.checked_at}` : null, h.detail].filter(Boolean).join(', ');
}

function nodeTable(list: IngestNode[]): string {
  return table(
    ['id', 'name', 'kind', 'region', 'status', 'health', 'load', 'ingest_url'],
    list.map((n) => [n.id, n.name, n.kind, n.region, n.status, n.health.state, `${n.open_ingests}/${n.capacity}`, n.ingest_url]),
  );
}

function startedDetails(s: StartedIngest): string {
  // The key appears once; publish_url (server URL + key) is left to --json so it is not printed twice.
  return keyValues([
    ['id', s.id],
    ['session_id', s.session_id],
    ['status', s.status],
    ['primary_url', `${s.primary.url}  (node ${s.primary.node_id})`],
    ['backup_url', s.backup ? `${s.backup.url}  (node ${s.backup.node_id})` : null],
    ['stream_key', s.stream_key],
    ['profile', s.quality_profile],
    ['encoder', encoderSummary(s.encoder_settings)],
    ...(s.encoder_settings.adjusted.length > 0 ? [['adjusted', s.encoder_settings.adjusted.join('; ')] as [string, unknown]] : []),
    ['reconnect_window', `${s.reconnect_window_seconds} s`],
    ['created_at', s.created_at],
  ]);
}

function encoderSummary(e: EncoderSettings): string {
  return `${e.video_codec} ${e.h264_profile} ${e.width}x${e.height} ${e.frame_rate} fps, ${e.video_bitrate_kbps} kbps ${e.rate_control.toUpperCase()}, keyframe every ${e.keyframe_interval_seconds} s; ${e.audio_codec} ${e.audio_bitrate_kbps} kbps ${e.audio_sample_rate} Hz`;
}

function statusDetails(s: IngestStatus): string {
  const active = s.sides[s.active_side];
  const details = keyValues([
    ['id', s.id],
    ['session_id', s.session_id],
    ['status', s.status],
    ['profile', s.quality_profile],
    ['active', `${s.active_side}, node ${active ? `${active.node_name} (${s.active_node_id})` : s.active_node_id}`],
    ['playback_origin', s.playback_origin],
    ['primary', sideLine(s.sides.primary)],
    ['backup', s.sides.backup ? sideLine(s.sides.backup) : null],
    ['reconnect', `${s.reconnect_window_seconds} s window${s.reconnect_deadline ? `, deadline ${s.reconnect_deadline}` : ''}`],
    ['created_at', s.created_at],
    ['live_at', s.live_at],
    ['ended_at', s.ended_at],
    ['end_reason', s.end_reason],
  ]);
  const history = s.failovers.length === 0
    ? 'failovers: none\n'
    : `failovers:\n${indent(table(['at', 'from', 'to', 'reason', 'manual'], s.failovers.map((f) => [f.at, f.from_side, f.to_side, f.reason, f.manual ? 'yes' : 'no'])))}`;
  return details + history;
}

function sideLine(side: SideStatus): string {
  const bitrate = side.bitrate_kbps === null ? 'no bitrate measured' : `${side.bitrate_kbps} kbps`;
  const publisher = side.publisher ? `, publisher ${side.publisher.addr ?? '?'} ${side.publisher.state}` : '';
  return `${side.state}, ${bitrate}; node ${side.node_name} (${side.node_id}), health ${side.node_health}${publisher}`;
}

function metricsDetails(m: IngestMetrics): string {
  const x = m.measured;
  const kbps = (v: number | null) => (v === null ? '-' : `${v} kbps`);
  const issues = (list: Array<{ code: string; detail: string }>) => (list.length === 0 ? null : list.map((i) => `${i.code}: ${i.detail}`).join('; '));
  const r = m.recommendation;
  return keyValues([
    ['id', m.id],
    ['side', m.side],
    ['node_id', m.node_id],
    ['bitrate', `${kbps(x.bitrate_kbps)} (video ${kbps(x.video_bitrate_kbps)}, audio ${kbps(x.audio_bitrate_kbps)})`],
    ['video', x.width === null || x.height === null ? x.video_codec : `${x.video_codec ?? '?'} ${x.width}x${x.height}${x.frame_rate === null ? '' : ` ${x.frame_rate} fps`}`],
    ['audio', x.audio_codec],
    ['bytes_in', x.bytes_in],
    ['dropped_frames', x.dropped_frames],
    ['uptime', x.uptime_seconds === null ? null : `${x.uptime_seconds} s`],
    ['target', encoderSummary(m.target)],
    ['health', `${m.health.score}/100`],
    ['issues', issues(m.health.issues)],
    ['profile_violations', issues(m.profile_violations)],
    ['recommendation', r ? `${r.action}${r.video_bitrate_kbps !== undefined ? ` (${r.video_bitrate_kbps} kbps)` : ''}: ${r.detail}` : null],
  ]);
}

const indent = (text: string) => text.replace(/^(?=.)/gm, '  ');
