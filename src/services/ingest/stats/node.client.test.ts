import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { TaskCancelledError } from 'cockatiel';
import { afterEach, describe, expect, it } from 'vitest';
import { parseNginxStat } from './nginx-stat.parser.js';
import { MediaServerClient, NodeHttpError, NodeUnreachableError, NotSupportedError, ResponseTooLargeError, type BreakerState, type MediaServerClientOptions } from './node.client.js';
import { StatsParseError } from './stream-stats.js';

const STAT = readFileSync(new URL('./fixtures/nginx-stat.one-stream.xml', import.meta.url), 'utf8');

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

const handlers: Record<string, Handler> = {
  good: (_req, res) => res.writeHead(200, { 'content-type': 'text/xml' }).end(STAT),
  garbage: (_req, res) => res.writeHead(200).end('<html>oops</html>'),
  error: (_req, res) => res.writeHead(500).end('boom'),
  hang: () => undefined,
  slow: (_req, res) => {
    res.writeHead(200);
    const third = Math.ceil(STAT.length / 3);
    void (async () => {
      for (let i = 0; i < 3; i++) {
        await delay(60);
        res.write(STAT.slice(i * third, (i + 1) * third));
      }
      res.end();
    })();
  },
  endless: (_req, res) => {
    res.writeHead(200);
    const chunk = Buffer.alloc(64 * 1024, 'x');
    const pump = () => {
      while (!res.destroyed && res.write(chunk));
    };
    res.on('drain', pump);
    pump();
  },
  declaredHuge: (_req, res) => res.writeHead(200, { 'content-length': String(10 * 1024 * 1024) }).end(),
  dropOne: (_req, res) => res.writeHead(200).end('1'),
};

/** A real HTTP server on a loopback port, whose behaviour the test switches. */
class FakeNode {
  mode: keyof typeof handlers = 'good';
  readonly requests: Array<{ url: string; authorization?: string }> = [];
  /** Requests whose connection has closed before they were answered. */
  abandoned = 0;
  private server: Server | null = null;
  port = 0;

  async start(port = 0): Promise<this> {
    const server = createServer((req, res) => {
      this.requests.push({ url: req.url ?? '', ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}) });
      res.on('close', () => {
        if (!res.writableFinished) this.abandoned++;
      });
      handlers[this.mode]!(req, res);
    });
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
    return this;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (!server) return;
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
}

const nodes: FakeNode[] = [];
const clients: MediaServerClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.dispose();
  for (const n of nodes.splice(0)) await n.stop();
});

async function fakeNode(): Promise<FakeNode> {
  const node = await new FakeNode().start();
  nodes.push(node);
  return node;
}

function client(over: Partial<MediaServerClientOptions> & { statsUrl?: string | null }, states: BreakerState[] = []): MediaServerClient {
  const c = new MediaServerClient({ kind: 'nginx-rtmp', timeoutMs: 5_000, retries: 0, breaker: { consecutiveFailures: 3, halfOpenAfterMs: 200 }, onStateChange: (s) => states.push(s), ...over });
  clients.push(c);
  return c;
}

async function waitFor(condition: () => boolean | Promise<boolean>, what: string, deadlineMs = 5_000): Promise<void> {
  const until = performance.now() + deadlineMs;
  while (!(await condition())) {
    if (performance.now() > until) throw new Error(`timed out waiting for ${what}`);
    await delay(10);
  }
}

const failure = (p: Promise<unknown>) => p.then(() => expect.unreachable('expected a rejection'), (err: unknown) => err);

describe('MediaServerClient.fetchStats', () => {
  it('parses a good /stat document', async () => {
    const node = await fakeNode();
    const stats = await client({ statsUrl: `${node.url}/stat` }).fetchStats();
    expect(stats).toEqual(parseNginxStat(STAT));
    expect(node.requests.map((r) => r.url)).toEqual(['/stat']);
  });

  it('asks SRS and MediaMTX for the whole list in one page', async () => {
    const node = await fakeNode();
    node.mode = 'garbage';
    await failure(client({ kind: 'srs', statsUrl: `${node.url}/api/v1/streams/` }).fetchStats());
    await failure(client({ kind: 'mediamtx', statsUrl: `${node.url}/v3/paths/list` }).fetchStats());
    expect(node.requests.map((r) => r.url)).toEqual(['/api/v1/streams/?count=100000', '/v3/paths/list?itemsPerPage=100000']);
  });

  it('turns URL credentials into Basic auth', async () => {
    const node = await fakeNode();
    await client({ statsUrl: `http://admin:s%3Acret@127.0.0.1:${node.port}/stat` }).fetchStats();
    expect(node.requests[0]!.authorization).toBe(`Basic ${Buffer.from('admin:s:cret').toString('base64')}`);
  });

  it('reports garbage as StatsParseError after retrying', async () => {
    const node = await fakeNode();
    node.mode = 'garbage';
    expect(await failure(client({ statsUrl: `${node.url}/stat`, retries: 2 }).fetchStats())).toBeInstanceOf(StatsParseError);
    expect(node.requests).toHaveLength(3);
  });

  it('reports a 500 as NodeHttpError after retrying', async () => {
    const node = await fakeNode();
    node.mode = 'error';
    const err = await failure(client({ statsUrl: `${node.url}/stat`, retries: 1 }).fetchStats());
    expect(err).toBeInstanceOf(NodeHttpError);
    expect((err as NodeHttpError).status).toBe(500);
    expect(node.requests).toHaveLength(2);
  });

  it('accepts a slow answer that completes within the timeout', async () => {
    const node = await fakeNode();
    node.mode = 'slow';
    expect((await client({ statsUrl: `${node.url}/stat`, timeoutMs: 5_000 }).fetchStats()).streams).toHaveLength(1);
  });

  it('refuses a body over the cap while it streams in, and closes the connection', async () => {
    const node = await fakeNode();
    node.mode = 'endless';
    const err = await failure(client({ statsUrl: `${node.url}/stat`, maxBodyBytes: 1024 * 1024 }).fetchStats());
    expect(err).toBeInstanceOf(ResponseTooLargeError);
    await waitFor(() => node.abandoned === 1, 'the server to see the connection close');
  });

  it('refuses a declared Content-Length over the cap without reading the body', async () => {
    const node = await fakeNode();
    node.mode = 'declaredHuge';
    expect(await failure(client({ statsUrl: `${node.url}/stat`, maxBodyBytes: 1024 * 1024 }).fetchStats())).toBeInstanceOf(ResponseTooLargeError);
  });

  it('reports a refused connection as NodeUnreachableError', async () => {
    const node = await fakeNode();
    const url = `${node.url}/stat`;
    await node.stop();
    const err = await failure(client({ statsUrl: url }).fetchStats());
    expect(err).toBeInstanceOf(NodeUnreachableError);
    expect((err as NodeUnreachableError).message).toMatch(/ECONNREFUSED/);
    expect((err as NodeUnreachableError).circuitOpen).toBe(false);
  });

  it('times out a hung server, frees the socket, opens the breaker, fails fast, then lets a trial through', async () => {
    const node = await fakeNode();
    node.mode = 'hang';
    const states: BreakerState[] = [];
    const c = client({ statsUrl: `${node.url}/stat`, timeoutMs: 150, breaker: { consecutiveFailures: 2, halfOpenAfterMs: 200 } }, states);

    const first = await failure(c.fetchStats());
    expect(first).toBeInstanceOf(NodeUnreachableError);
    expect((first as Error).cause).toBeInstanceOf(TaskCancelledError);
    await waitFor(() => node.abandoned === 1, 'the hung request to be abandoned');
    expect(c.breakerState).toBe('closed');

    await failure(c.fetchStats());
    expect(c.breakerState).toBe('open');
    expect(states).toEqual(['open']);

    const fast = (await failure(c.fetchStats())) as NodeUnreachableError;
    expect(fast).toBeInstanceOf(NodeUnreachableError);
    expect(fast.circuitOpen).toBe(true);
    expect(fast.cause).toBeInstanceOf(TaskCancelledError);
    expect(node.requests).toHaveLength(2);

    // After halfOpenAfterMs the next call is the trial; against a server still hung it re-opens.
    await waitFor(async () => !((await failure(c.fetchStats())) as NodeUnreachableError).circuitOpen, 'the breaker to let a trial call through');
    expect(states).toEqual(['open', 'half-open', 'open']);
    expect(node.requests).toHaveLength(3);
    await waitFor(() => node.abandoned === 3, 'every hung request to be abandoned');
  });

  it('closes the breaker again when a node that was down comes back', async () => {
    const node = await fakeNode();
    const port = node.port;
    await node.stop();
    const states: BreakerState[] = [];
    const c = client({ statsUrl: `http://127.0.0.1:${port}/stat`, breaker: { consecutiveFailures: 2, halfOpenAfterMs: 200 } }, states);
    await failure(c.fetchStats());
    await failure(c.fetchStats());
    expect(c.breakerState).toBe('open');

    await node.start(port);
    nodes.push(node);
    await waitFor(async () => (await c.fetchStats().then(() => true, () => false)), 'a successful call');
    expect(c.breakerState).toBe('closed');
    expect(states).toEqual(['open', 'half-open', 'closed']);
  });

  it('aborts a call in flight on dispose and refuses later ones', async () => {
    const node = await fakeNode();
    node.mode = 'hang';
    const c = client({ statsUrl: `${node.url}/stat`, timeoutMs: 60_000 });
    const pending = failure(c.fetchStats());
    await waitFor(() => node.requests.length === 1, 'the request to arrive');
    c.dispose();
    expect(await pending).toHaveProperty('message', 'MediaServerClient was disposed during the call');
    await waitFor(() => node.abandoned === 1, 'the server to see the connection close');
    expect(await failure(c.fetchStats())).toHaveProperty('message', 'MediaServerClient is disposed');
  });

  it('says clearly what it cannot do', async () => {
    expect(await failure(client({ kind: 'ome', statsUrl: 'http://127.0.0.1:1/x' }).fetchStats())).toBeInstanceOf(NotSupportedError);
    expect(await failure(client({ statsUrl: null }).fetchStats())).toBeInstanceOf(NotSupportedError);
    expect(() => client({ statsUrl: 'ftp://127.0.0.1/stat' })).toThrow(/http\(s\)/);
  });
});

describe('MediaServerClient.dropPublisher', () => {
  it('calls nginx-rtmp control with the exact path and query and returns the count', async () => {
    const node = await fakeNode();
    node.mode = 'dropOne';
    expect(await client({ controlUrl: `${node.url}/control` }).dropPublisher('live', 'good')).toBe(1);
    expect(await client({ controlUrl: `${node.url}/control/` }).dropPublisher('live', 'cam-1.hd')).toBe(1);
    expect(node.requests.map((r) => r.url)).toEqual(['/control/drop/publisher?app=live&name=good', '/control/drop/publisher?app=live&name=cam-1.hd']);
  });

  it('refuses names nginx-rtmp could not match, and empty ones, without calling', async () => {
    const node = await fakeNode();
    const c = client({ controlUrl: `${node.url}/control` });
    for (const [app, name] of [['live', 'a b'], ['live', 'a&b'], ['live', 'x%41'], ['', 'good'], ['live', '']] as const) {
      expect(await failure(c.dropPublisher(app, name))).toBeInstanceOf(NotSupportedError);
    }
    expect(node.requests).toHaveLength(0);
  });

  it('refuses an answer that is not a count, and server kinds without the call', async () => {
    const node = await fakeNode();
    node.mode = 'garbage';
    expect(await failure(client({ controlUrl: `${node.url}/control` }).dropPublisher('live', 'good'))).toBeInstanceOf(StatsParseError);
    expect(await failure(client({ kind: 'srs', controlUrl: `${node.url}/control` }).dropPublisher('live', 'good'))).toBeInstanceOf(NotSupportedError);
    expect(await failure(client({ controlUrl: null }).dropPublisher('live', 'good'))).toBeInstanceOf(NotSupportedError);
  });
});
