import { createServer, type Server } from 'node:http';
import type { FastifyInstance } from 'fastify';
import { operator } from '../helpers/app.js';

/** Registers an nginx-rtmp node (stats and control optional) and answers its view. */
export async function registerNode(app: FastifyInstance, over: Record<string, unknown> = {}) {
  const res = await app.inject({
    method: 'POST',
    url: '/api/v1/ingest/nodes',
    headers: operator(),
    payload: { name: `n${Math.random().toString(36).slice(2, 8)}`, kind: 'nginx-rtmp', region: 'eu-west-1', ingest_url: 'rtmp://10.0.0.5:1935/live', ...over },
  });
  if (res.statusCode !== 201) throw new Error(`node registration failed: ${res.statusCode} ${res.body}`);
  return res.json() as { id: string; hooks: Record<string, string>; machine: string };
}

export async function newSession(app: FastifyInstance): Promise<string> {
  const res = await app.inject({ method: 'POST', url: '/api/v1/sessions/start', headers: operator(), payload: {} });
  return res.json().id as string;
}

export async function startIngest(app: FastifyInstance, body: Record<string, unknown>) {
  const res = await app.inject({ method: 'POST', url: '/api/v1/ingest/start', headers: operator(), payload: body });
  if (res.statusCode !== 201) throw new Error(`ingest start failed: ${res.statusCode} ${res.body}`);
  return res.json() as { id: string; session_id: string; stream_key: string; primary: { node_id: string }; backup: { node_id: string } | null };
}

/** The path part of a hook URL (inject talks to the app directly). */
export const hookPath = (url: string) => new URL(url).pathname;

let clientIds = 100;
/**
 * An nginx-rtmp callback exactly as nginx sends it: form-encoded fields in nginx's order
 * (see src/services/ingest/media-servers/nginx-rtmp/fixtures for recorded ones).
 */
export async function nginxCallback(app: FastifyInstance, node: { hooks: Record<string, string> }, hook: string, f: { name: string; call?: string; clientid?: string; addr?: string; time?: number }) {
  const call = f.call ?? ({ on_publish: 'publish', on_publish_done: 'publish_done', on_update: 'update_publish', on_play: 'play', on_play_done: 'play_done', on_done: 'done' } as Record<string, string>)[hook]!;
  const fields = new URLSearchParams({
    app: 'live',
    flashver: 'FMLE/3.0 (compatible; Lavf59.27',
    swfurl: '',
    tcurl: 'rtmp://10.0.0.5:1935/live',
    pageurl: '',
    addr: f.addr ?? '127.0.0.1',
    clientid: f.clientid ?? String(clientIds++),
    call,
    name: f.name,
    ...(call === 'publish' ? { type: 'live' } : {}),
    ...(call.startsWith('update') ? { time: String(f.time ?? 10), timestamp: '10000' } : {}),
  });
  return app.inject({ method: 'POST', url: hookPath(node.hooks[hook]!), headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: fields.toString() });
}

/**
 * A stand-in for a node's /stat page whose content the test sets. Service tests use it so that they
 * run without nginx; test/e2e runs the same flows against real nginx-rtmp.
 */
export class StatServer {
  private server: Server | null = null;
  streams = new Map<string, number>();
  port = 0;

  async start(port = 0): Promise<string> {
    this.server = createServer((req, res) => {
      if (req.url?.startsWith('/control/drop/publisher')) {
        const name = new URL(req.url, 'http://x').searchParams.get('name') ?? '';
        const had = this.streams.delete(name);
        res.end(had ? '1' : '0');
        return;
      }
      res.setHeader('content-type', 'text/xml');
      res.end(statXml(this.streams));
    });
    await new Promise<void>((resolve) => this.server!.listen(port, '127.0.0.1', resolve));
    this.port = (this.server.address() as { port: number }).port;
    return `http://127.0.0.1:${this.port}`;
  }

  /** Bytes keep growing on every poll for streams marked as flowing. */
  grow(name: string, by = 50_000) {
    this.streams.set(name, (this.streams.get(name) ?? 0) + by);
  }

  async stop() {
    const s = this.server;
    this.server = null;
    if (s) await new Promise<void>((resolve) => { s.closeAllConnections(); s.close(() => resolve()); });
  }
}

function statXml(streams: Map<string, number>): string {
  const items = [...streams].map(([name, bytes]) => `<stream><name>${name}</name><time>5000</time><bw_in>800000</bw_in><bytes_in>${bytes}</bytes_in><bw_out>0</bw_out><bytes_out>0</bytes_out><bw_audio>64000</bw_audio><bw_video>736000</bw_video>
<client><id>1</id><address>127.0.0.1</address><time>5000</time><flashver>FMLE/3.0 (compatible; Lavf59.27</flashver><dropped>0</dropped><avsync>-11</avsync><timestamp>5000</timestamp><publishing/><active/></client>
<meta><video><width>1280</width><height>720</height><frame_rate>30</frame_rate><codec>H264</codec><profile>High</profile><compat>0</compat><level>3.1</level></video><audio><codec>AAC</codec><profile>LC</profile><channels>2</channels><sample_rate>48000</sample_rate></audio></meta>
<nclients>1</nclients><publishing/><active/></stream>`).join('');
  return `<?xml version="1.0" encoding="utf-8" ?><rtmp><nginx_version>1.22.1</nginx_version><nginx_rtmp_version>1.1.4</nginx_rtmp_version><pid>1</pid><uptime>10</uptime><naccepted>1</naccepted><bw_in>0</bw_in><bytes_in>0</bytes_in><bw_out>0</bw_out><bytes_out>0</bytes_out><server><application><name>live</name><live>${items}<nclients>${streams.size}</nclients></live></application></server></rtmp>`;
}
