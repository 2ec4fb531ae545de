import { ChatClients, createChatRoom, ensureNofile, waitQuiet, Inspector, inspectorArgs, settledRssKiB, spawnStreamplaneChat, spawnWsPeer, type ChatTarget, CHAT_BENCH_ENV, type MemoryUsage } from '../lib/chat-driver.js';
import { scratchDir } from '../lib/load.js';
import { emit, progress, round, sleep } from '../lib/report.js';
import type { Running } from '../lib/server.js';

/**
 * ws_memory: memory per idle connection at N = 10,000 open sockets, Streamplane's chat (authenticated
 * viewers joined to one room) against the bare `ws` server (bench/peers/ws-broadcast.ts), each in its
 * own process, the sockets held by the chat load process (bench/lib/chat-clients.ts) on the load CPU.
 *
 * Each server runs with `--inspect` so that the bench can ask it, through the inspector protocol, for
 * full garbage collections and its process.memoryUsage() without code of ours inside it. Per server:
 * open W warm-up connections (whatever is created once — the room, caches, lazily loaded modules — is
 * not a per-connection cost) → GC ×2 → VmRSS once it stops moving, heap used → open N more idle
 * connections → wait, GC ×2 → the same reads. Per connection = (after − before) / N.
 */

const CONNECTIONS = Number(process.env.BENCH_WS_MEMORY_CONNECTIONS ?? 10_000);
const WARM = 100;
const TOKENS = Number(process.env.BENCH_CHAT_TOKENS ?? 100);
const SETTLE_MS = 2_000;
const TARGET_RATIO = 1.5;

interface Reading {
  rss_kib: number;
  memory: MemoryUsage;
}

interface Outcome {
  connections: number;
  joined: number;
  failures: Record<string, number>;
  connect_ms: number;
  connect_per_s: number;
  cpu_busy_before: Array<number | null>;
  before: Reading;
  after: Reading;
  per_connection_bytes: { rss: number; heap_used: number; external: number; array_buffers: number };
  open_at_end: number;
  closed_by_server: number;
  close_codes: Record<string, number>;
  load_process_rss_kib: number;
  fds: unknown;
}

export async function wsMemory(): Promise<void> {
  const scratch = scratchDir();
  const results: Partial<Record<ChatTarget, Outcome | { error: string }>> = {};
  try {
    for (const t of ['ws', 'streamplane'] as const) {
      try {
        results[t] = await measureTarget(t, scratch.dir);
      } catch (err) {
        results[t] = { error: err instanceof Error ? err.message.slice(0, 2_000) : String(err) };
        progress(`ws_memory: ${t}: ${(results[t] as { error: string }).error.slice(0, 500)}`);
      }
    }
  } finally {
    scratch.cleanup();
  }
  const ok = (r: Outcome | { error: string } | undefined): r is Outcome => Boolean(r && !('error' in r));
  const subject = results.streamplane;
  const limit = results.ws;
  const ratio = ok(subject) && ok(limit) ? round(subject.per_connection_bytes.rss / limit.per_connection_bytes.rss) : null;
  const heapRatio = ok(subject) && ok(limit) ? round(subject.per_connection_bytes.heap_used / limit.per_connection_bytes.heap_used) : null;
  emit({
    scenario: 'ws_memory',
    what: `server memory per idle connection: ${CONNECTIONS} idle WebSocket connections opened after ${WARM} warm-up ones; (after − before) / ${CONNECTIONS}, each read after two full GCs of every thread (inspector protocol) and once VmRSS stops moving`,
    subject: ok(subject) ? { name: 'streamplane chat: authenticated viewers joined to one room (WS /ws/chat/{session_id}?access_token=…), npm start build, memory:// PGlite', ...subject } : { skipped: subject?.error ?? 'not run' },
    limit: ok(limit) ? { name: 'bare ws 8 server (bench/peers/ws-broadcast.ts), no auth, no room', ...limit } : { skipped: limit?.error ?? 'not run' },
    ratio,
    heap_ratio: heapRatio,
    target: { rss_ratio_at_most: TARGET_RATIO },
    // A server whose RSS shrank while connections were added did not settle: no verdict from that run.
    within_target: ratio === null || ratio <= 0 ? null : ratio <= TARGET_RATIO,
    setup: {
      connections: CONNECTIONS,
      warmup_connections: WARM,
      streamplane_tokens: `${TOKENS} distinct viewer tokens reused round robin (each connection is authenticated by the server; the verified-token cache holds ${TOKENS} entries, not one per connection)`,
      streamplane_env: { DATABASE_URL: 'memory://', LOG_LEVEL: 'warn', ...CHAT_BENCH_ENV },
      server_node_args: '--inspect=127.0.0.1:<free port> (for the GC and memoryUsage reads)',
    },
  });
}

async function measureTarget(t: 'ws' | 'streamplane', scratch: string): Promise<Outcome> {
  const quiet = await waitQuiet();
  const inspect = await inspectorArgs();
  progress(`ws_memory: starting ${t}`);
  const server: Running = t === 'ws' ? await spawnWsPeer(inspect.args) : await spawnStreamplaneChat(inspect.args);
  let clients: ChatClients | null = null;
  let inspector: Inspector | null = null;
  try {
    const room = t === 'streamplane' ? await createChatRoom(server.url, TOKENS) : null;
    clients = await ChatClients.start(
      { target: t, port: server.port, serverPid: server.pid, ...(room ? { sessionId: room.sessionId, tokens: room.tokens, publisherToken: room.publisherToken } : {}) },
      scratch,
    );
    const fds = { load: ensureNofile(clients.pid, CONNECTIONS + WARM + 200), server: ensureNofile(server.pid, CONNECTIONS + WARM + 200) };
    inspector = await Inspector.connect(inspect.port);

    const warm = await clients.connect(WARM, 50);
    if (warm.joined < WARM) throw new Error(`warm-up connections failed: ${JSON.stringify(warm.failures)}`);
    const read = async (): Promise<Reading> => {
      await inspector!.gc();
      const rss = await settledRssKiB(server.pid);
      return { rss_kib: rss, memory: await inspector!.memoryUsage() };
    };
    const before = await read();
    progress(`ws_memory: ${t}: before: VmRSS ${before.rss_kib} KiB, heap used ${Math.round(before.memory.heapUsed / 1024)} KiB; opening ${CONNECTIONS} connections`);
    const c = await clients.connect(CONNECTIONS, 100, 60_000);
    progress(`ws_memory: ${t}: ${c.joined}/${CONNECTIONS} joined in ${c.ms} ms${c.failed ? `, failures ${JSON.stringify(c.failures)}` : ''}`);
    if (c.joined === 0) throw new Error(`no connection joined: ${JSON.stringify(c.failures)}`);
    await sleep(SETTLE_MS);
    const after = await read();
    const st = await clients.status();
    progress(`ws_memory: ${t}: after: VmRSS ${after.rss_kib} KiB, heap used ${Math.round(after.memory.heapUsed / 1024)} KiB, ${st.open} open`);
    const per = (a: number, b: number) => Math.round((a - b) / c.joined);
    return {
      connections: CONNECTIONS,
      joined: c.joined,
      failures: c.failures,
      connect_ms: c.ms,
      connect_per_s: c.per_s,
      cpu_busy_before: quiet.cpu_busy,
      before,
      after,
      per_connection_bytes: {
        rss: per(after.rss_kib * 1024, before.rss_kib * 1024),
        heap_used: per(after.memory.heapUsed, before.memory.heapUsed),
        external: per(after.memory.external, before.memory.external),
        array_buffers: per(after.memory.arrayBuffers, before.memory.arrayBuffers),
      },
      open_at_end: st.open - WARM,
      closed_by_server: st.closed,
      close_codes: st.close_codes,
      load_process_rss_kib: st.rss_kib,
      fds,
    };
  } finally {
    inspector?.close();
    await clients?.close();
    await server.stop();
  }
}
