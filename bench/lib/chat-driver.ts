import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import WebSocket from 'ws';
import type { ChatEndpoint, ConnectResult, PassResult } from './chat-clients.js';
import { exited, spawnTracked, stopChild } from './children.js';
import { freePort } from './port.js';
import { pool, postJson } from './report.js';
import { ADMIN_KEY, buildDist, REPO_ROOT, spawnServer, streamplaneEnv, type Running } from './server.js';

/**
 * The bench's side of the chat scenarios: starting the servers (the two peers, Streamplane with chat
 * limits raised), creating a room and its tokens, driving the chat load process
 * (bench/lib/chat-clients.ts), raising file-descriptor limits, and asking a server for a GC and its
 * heap through the inspector protocol (so no server needs code of ours to be measured).
 */

export type ChatTarget = ChatEndpoint['target'];

/** Streamplane's limits raised so that neither the bench's one address nor its publisher is refused. */
export const CHAT_BENCH_ENV = {
  STREAMPLANE_WS_MAX_CONNECTIONS_PER_IP: '100000',
  STREAMPLANE_CHAT_USER_RATE_LIMIT: '1000000',
  STREAMPLANE_CHAT_ROOM_RATE_LIMIT: '1000000',
  STREAMPLANE_WS_MAX_FRAMES_PER_10S: '1000000',
};

export function spawnWsPeer(nodeArgs: string[] = []): Promise<Running> {
  return spawnServer({ script: 'bench/peers/ws-broadcast.ts', env: {}, nodeArgs });
}

export function spawnSocketIoPeer(nodeArgs: string[] = []): Promise<Running> {
  return spawnServer({ script: 'bench/peers/socketio-room.ts', env: {}, nodeArgs });
}

/** What `npm start` runs (build, then node dist/main.js) on memory:// PGlite with the chat limits raised. */
export async function spawnStreamplaneChat(nodeArgs: string[] = [], extraEnv: Record<string, string> = {}): Promise<Running> {
  buildDist();
  return spawnServer({ script: 'dist/main.js', env: streamplaneEnv({ ...CHAT_BENCH_ENV, ...extraEnv }), nodeArgs });
}

export interface ChatRoom {
  sessionId: string;
  /** Subscriber tokens (scopes view, chat), reused round robin over the connections. */
  tokens: string[];
  publisherToken: string;
}

/** A session and `tokens` distinct viewer tokens for it, plus one for the publisher. */
export async function createChatRoom(url: string, tokens: number): Promise<ChatRoom> {
  const operator = { authorization: `Bearer ${ADMIN_KEY}` };
  const session = (await postJson<{ id: string }>(`${url}/api/v1/sessions/start`, { title: 'bench chat' }, operator)).body.id;
  const mint = async (viewer_id: string) =>
    (await postJson<{ access_token: string }>(`${url}/api/v1/auth/tokens`, { session_id: session, viewer_id, scopes: ['view', 'chat'], ttl_seconds: 3_600 }, operator)).body.access_token;
  const minted = await pool(Array.from({ length: tokens }, (_, i) => i), 16, (i) => mint(`viewer-${i}`));
  return { sessionId: session, tokens: minted, publisherToken: await mint('publisher') };
}

/**
 * Busy share of each CPU over `ms` (from /proc/stat, everything: other processes too). Read before a
 * measured target: on a shared machine, a CPU already busy with someone else's work explains a slow pass.
 */
export async function cpuBusy(ms = 1_000): Promise<Array<number | null>> {
  const read = () => {
    const out: Array<[number, number]> = [];
    try {
      for (const line of readFileSync('/proc/stat', 'utf8').split('\n')) {
        const m = /^cpu(\d+) (.*)$/.exec(line);
        if (!m) continue;
        const f = m[2]!.trim().split(/\s+/).map(Number);
        const total = f.slice(0, 8).reduce((a, x) => a + x, 0);
        out[Number(m[1])] = [total - f[3]! - f[4]!, total];
      }
    } catch {
      // not Linux
    }
    return out;
  };
  const a = read();
  await new Promise((r) => setTimeout(r, ms));
  return read().map(([busy, total], i) => {
    const [b0, t0] = a[i] ?? [0, 0];
    return total > t0 ? Math.round(((busy - b0) / (total - t0)) * 100) / 100 : null;
  });
}

/**
 * BENCH_QUIET_WAIT_S (default 0: no wait): before each measured target, wait up to that long for
 * every CPU to be under 20 % busy for a second (on a shared machine, someone else's tests or benches).
 * Returns the last reading and how long it waited.
 */
export async function waitQuiet(): Promise<{ cpu_busy: Array<number | null>; waited_s: number }> {
  const maxS = Number(process.env.BENCH_QUIET_WAIT_S ?? 0);
  const t0 = performance.now();
  for (;;) {
    const busy = await cpuBusy();
    const waited = Math.round((performance.now() - t0) / 1000);
    if (!(maxS > 0) || busy.every((b) => b === null || b < 0.2) || waited >= maxS) return { cpu_busy: busy, waited_s: waited };
  }
}

// ---------------------------------------------------------------------------------------------
// File descriptors

/** Soft and hard `Max open files` of a process, from /proc/<pid>/limits. */
export function nofile(pid: number): { soft: number; hard: number } | null {
  try {
    const m = /^Max open files\s+(\d+|unlimited)\s+(\d+|unlimited)/m.exec(readFileSync(`/proc/${pid}/limits`, 'utf8'));
    if (!m) return null;
    const n = (s: string) => (s === 'unlimited' ? Infinity : Number(s));
    return { soft: n(m[1]!), hard: n(m[2]!) };
  } catch {
    return null;
  }
}

/**
 * Makes sure `pid` may hold `needed` descriptors: raises its soft limit with `prlimit --pid` (up to the
 * hard limit, which needs no privilege; beyond it when the bench may). Returns what was found and done.
 */
export function ensureNofile(pid: number, needed: number): { soft: number; hard: number; needed: number; action: string } {
  const before = nofile(pid);
  if (!before) return { soft: NaN, hard: NaN, needed, action: 'unknown (no /proc)' };
  if (before.soft >= needed) return { ...before, needed, action: 'none' };
  const want = Math.max(needed, before.soft);
  const target = before.hard >= want ? `${before.hard}:${before.hard}` : `${want}:${want}`;
  const r = spawnSync('prlimit', ['--pid', String(pid), `--nofile=${target}`], { encoding: 'utf8' });
  const after = nofile(pid) ?? before;
  return { ...after, needed, action: r.status === 0 ? `prlimit --pid ${pid} --nofile=${target}` : `prlimit failed: ${(r.stderr || r.error?.message || '').trim()}` };
}

// ---------------------------------------------------------------------------------------------
// The chat load process

export class ChatClients {
  private nextId = 1;
  private waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private stderr = '';
  private constructor(
    readonly pid: number,
    private readonly child: ReturnType<typeof spawnTracked>,
  ) {}

  /** Starts bench/lib/chat-clients.ts on the load CPU against `endpoint`; resolves once it is ready. */
  static async start(endpoint: ChatEndpoint, scratch: string): Promise<ChatClients> {
    const file = join(scratch, `chat-${endpoint.target}-${Date.now()}.json`);
    writeFileSync(file, JSON.stringify(endpoint));
    const child = spawnTracked('load', process.execPath, ['--import', 'tsx', 'bench/lib/chat-clients.ts', file], { cwd: REPO_ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
    const c = new ChatClients(child.pid!, child);
    let ready!: () => void;
    const readyP = new Promise<void>((r) => (ready = r));
    let buf = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      buf += chunk.toString('utf8');
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        let msg: { id: number; ok: boolean; result?: unknown; error?: string };
        try {
          msg = JSON.parse(line) as typeof msg;
        } catch {
          continue;
        }
        if (msg.id === 0) ready();
        const w = c.waiting.get(msg.id);
        if (!w) continue;
        c.waiting.delete(msg.id);
        if (msg.ok) w.resolve(msg.result);
        else w.reject(new Error(msg.error));
      }
    });
    child.stderr!.on('data', (chunk: Buffer) => {
      const s = chunk.toString('utf8');
      c.stderr = (c.stderr + s).slice(-8_000);
      // Its progress lines go to ours.
      process.stderr.write(s);
    });
    void exited(child).then(({ code, signal }) => {
      for (const w of c.waiting.values()) w.reject(new Error(`chat load process exited (code ${code}, signal ${signal})\n${c.stderr}`));
      c.waiting.clear();
      ready();
    });
    await readyP;
    if (child.exitCode !== null) throw new Error(`chat load process exited at start\n${c.stderr}`);
    return c;
  }

  private call<T>(cmd: Record<string, unknown>): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.waiting.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.child.stdin!.write(`${JSON.stringify({ id, ...cmd })}\n`);
    });
  }

  connect(n: number, concurrency = 100, timeoutMs = 30_000): Promise<ConnectResult> {
    return this.call({ cmd: 'connect', n, concurrency, timeout_ms: timeoutMs });
  }
  publisher(): Promise<{ ms: number }> {
    return this.call({ cmd: 'publisher' });
  }
  burst(messages: number, window: number, chars: number, stallMs = 10_000): Promise<PassResult> {
    return this.call({ cmd: 'burst', messages, window, chars, stall_ms: stallMs });
  }
  paced(rate: number, seconds: number, chars: number, stallMs = 10_000): Promise<PassResult> {
    return this.call({ cmd: 'paced', rate, seconds, chars, stall_ms: stallMs });
  }
  status(): Promise<{ open: number; closed: number; close_codes: Record<string, number>; rss_kib: number }> {
    return this.call({ cmd: 'status' });
  }
  async close(): Promise<void> {
    if (this.child.exitCode === null) {
      await Promise.race([this.call({ cmd: 'close' }).catch(() => {}), new Promise((r) => setTimeout(r, 5_000))]);
    }
    await stopChild(this.child, 5_000);
  }
}

// ---------------------------------------------------------------------------------------------
// Inspector: a full GC and process.memoryUsage() from outside the server

export interface MemoryUsage {
  rss: number;
  heapTotal: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
}

/** `--inspect=127.0.0.1:<port>` for a server, and how to reach it once it runs. */
export async function inspectorArgs(): Promise<{ args: string[]; port: number }> {
  const port = await freePort();
  return { args: [`--inspect=127.0.0.1:${port}`], port };
}

type Reply = { result?: unknown; error?: { message: string } };

/**
 * The server's inspector: the main thread, and through the NodeWorker domain every worker thread
 * (PGlite's), whose heaps a collection of the main thread's does not touch.
 */
export class Inspector {
  private nextId = 1;
  private waiting = new Map<number, (v: Reply) => void>();
  /** Worker inspector sessions, and their replies by the id of the wrapped request. */
  private workers = new Set<string>();
  private constructor(private readonly ws: WebSocket) {
    ws.on('message', (data: Buffer) => {
      const msg = JSON.parse(data.toString('utf8')) as Reply & { id?: number; method?: string; params?: { sessionId: string; message?: string } };
      if (msg.method === 'NodeWorker.attachedToWorker') this.workers.add(msg.params!.sessionId);
      else if (msg.method === 'NodeWorker.detachedFromWorker') this.workers.delete(msg.params!.sessionId);
      else if (msg.method === 'NodeWorker.receivedMessageFromWorker') {
        const inner = JSON.parse(msg.params!.message!) as Reply & { id?: number };
        if (inner.id !== undefined) this.settle(inner.id, inner);
      } else if (msg.id !== undefined) this.settle(msg.id, msg);
    });
  }

  private settle(id: number, msg: Reply): void {
    this.waiting.get(id)?.(msg);
    this.waiting.delete(id);
  }

  static async connect(port: number): Promise<Inspector> {
    const list = (await (await fetch(`http://127.0.0.1:${port}/json/list`)).json()) as Array<{ webSocketDebuggerUrl: string }>;
    const ws = new WebSocket(list[0]!.webSocketDebuggerUrl, { perMessageDeflate: false });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    const inspector = new Inspector(ws);
    // Existing workers are announced (attachedToWorker) before this answers.
    await inspector.send('NodeWorker.enable', { waitForDebuggerOnStart: false });
    return inspector;
  }

  /** A request to the main thread, or to the worker of `session`. */
  private send<T>(method: string, params: Record<string, unknown> = {}, session?: string): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.waiting.set(id, (msg) => (msg.error ? reject(new Error(`${method}: ${msg.error.message}`)) : resolve(msg.result as T)));
      const request = JSON.stringify({ id, method, params });
      if (session === undefined) this.ws.send(request);
      else this.ws.send(JSON.stringify({ id: this.nextId++, method: 'NodeWorker.sendMessageToWorker', params: { sessionId: session, message: request } }));
    });
  }

  /** Two full collections of every thread's heap (the second frees what finalizers of the first released). */
  async gc(): Promise<void> {
    for (const session of [undefined, ...this.workers]) {
      await this.send('HeapProfiler.collectGarbage', {}, session);
      await this.send('HeapProfiler.collectGarbage', {}, session);
    }
  }

  async memoryUsage(): Promise<MemoryUsage> {
    const r = await this.send<{ result: { value: string } }>('Runtime.evaluate', { expression: 'JSON.stringify(process.memoryUsage())', returnByValue: true });
    return JSON.parse(r.result.value) as MemoryUsage;
  }

  close(): void {
    this.ws.close();
  }
}

/** Waits until VmRSS moves less than 0.5 % between reads 500 ms apart (at most `maxMs`); returns the last read (KiB). */
export async function settledRssKiB(pid: number, maxMs = 10_000): Promise<number> {
  const read = () => {
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : NaN;
  };
  const deadline = performance.now() + maxMs;
  let prev = read();
  for (;;) {
    await new Promise((r) => setTimeout(r, 500));
    const cur = read();
    if (Math.abs(cur - prev) / prev < 0.005 || performance.now() > deadline) return cur;
    prev = cur;
  }
}

