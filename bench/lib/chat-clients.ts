import { randomBytes, randomFillSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { createInterface } from 'node:readline';
import { io as ioClient, type Socket as IoSocket } from 'socket.io-client';
import WebSocket from 'ws';

/**
 * The chat load process of chat_fanout and ws_memory (run by bench/lib/chat-driver.ts on the load CPU,
 * never in the bench's own process): it holds every subscriber connection and the one publisher, so
 * that the send time written into each message and the arrival time of each delivery are read on one
 * clock (performance.now() of this process).
 *
 * Subscribers are raw TCP sockets speaking just enough WebSocket (RFC 6455: the upgrade, unmasked
 * server frames, masked pongs) and, per target, just enough of the protocol on top to join:
 *   ws          nothing: joined at the 101;
 *   socketio    engine.io 4 / socket.io 5: `0{…}` open, we send `40`, joined at `40{…}`; `2` → `3`;
 *   streamplane joined at the first frame `{"type":"joined",…}` (docs/protocol.md).
 * The same minimal receiver for every target keeps the generator's cost per delivery identical
 * across targets, and far below what the `ws` and socket.io-client libraries cost per socket, which
 * matters here: the clients of 5,000 sockets run on one CPU against a server on the other. A delivery
 * is recognised by the marker `bench|<pass>|<seq>|<send time ms>|` inside the frame, whatever the
 * framing around it (raw text, `42["msg","…"]`, or our JSON message frame); nothing else is parsed.
 *
 * The publisher uses the real client libraries (`ws`, socket.io-client), so the protocols are also
 * exercised by an independent implementation. Burst mode keeps at most `window` messages unconfirmed:
 * streamplane confirms with its `ack` frame (sent once the message is stored), the peers have no ack,
 * so the publisher's own copy of the broadcast confirms (it connects last, so it is written to last).
 *
 * Control: one JSON command per line on stdin `{id, cmd, …}`, one JSON answer per line on stdout
 * `{id, ok, result | error}`; progress on stderr.
 */

type Target = 'ws' | 'socketio' | 'streamplane';

export interface ChatEndpoint {
  target: Target;
  port: number;
  /** streamplane: the session whose room everyone joins. */
  sessionId?: string;
  /** streamplane: subscriber tokens, used round robin (each connection is authenticated anyway). */
  tokens?: string[];
  /** streamplane: the publisher's token (scope chat). */
  publisherToken?: string;
  /** Server process, for its CPU time around each pass (/proc/<pid>/stat). */
  serverPid?: number;
}

export interface ConnectResult {
  requested: number;
  joined: number;
  failed: number;
  failures: Record<string, number>;
  open_total: number;
  ms: number;
  per_s: number;
}

export interface PassResult {
  mode: 'burst' | 'paced';
  subscribers: number;
  messages_sent: number;
  /** Sends the server confirmed (streamplane: ack; peers: the publisher's own copy arrived). */
  messages_confirmed: number;
  send_errors: Record<string, number>;
  deliveries: number;
  /** Messages sent and not refused × open subscribers. */
  deliveries_expected: number;
  /** Most deliveries one subscriber got: above messages_sent means duplicates. */
  max_per_subscriber: number;
  /** Subscribers that missed at least one message that was not refused. */
  subscribers_short: number;
  duration_s: number;
  delivered_per_s: number;
  latency_ms: { p50: number; p90: number; p99: number; max: number; mean: number };
  /** Bytes of one delivered frame's payload (what each subscriber receives per message). */
  frame_bytes: number | null;
  server_cpu_s: number | null;
  server_cpu_us_per_delivery: number | null;
  server_cpu_utilization: number | null;
  client_cpu_utilization: number;
  /** Busy share of each CPU of the machine during the pass (/proc/stat: everything, softirq included). */
  cpu_busy: Array<number | null>;
  /** paced: sends that left more than 5 ms after their scheduled time (the generator was late). */
  late_sends?: number;
  offered_rate?: number;
  window?: number;
  timed_out: boolean;
  open_after: number;
  closed_during: number;
}

const MARKER = Buffer.from('bench|');
const CRLF2 = Buffer.from('\r\n\r\n');

// ---------------------------------------------------------------------------------------------
// Latency histogram: log buckets of 1 % from 1 µs, so quantiles are within 1 % without keeping samples.

const STEP = Math.log(1.01);
const BUCKETS = 2_000; // 1.01^2000 µs ≈ 4e8 s: nothing falls off the end

class Histogram {
  counts = new Float64Array(BUCKETS);
  n = 0;
  sum = 0;
  max = 0;
  record(ms: number) {
    const us = ms * 1000;
    const i = us <= 1 ? 0 : Math.min(BUCKETS - 1, Math.floor(Math.log(us) / STEP));
    this.counts[i]!++;
    this.n++;
    this.sum += ms;
    if (ms > this.max) this.max = ms;
  }
  quantile(q: number): number {
    if (this.n === 0) return NaN;
    const rank = Math.ceil(q * this.n);
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.counts[i]!;
      if (seen >= rank) return Math.min(this.max, Math.exp((i + 0.5) * STEP) / 1000);
    }
    return this.max;
  }
  summary() {
    const r = (x: number) => Math.round(x * 100) / 100;
    return { p50: r(this.quantile(0.5)), p90: r(this.quantile(0.9)), p99: r(this.quantile(0.99)), max: r(this.max), mean: r(this.n ? this.sum / this.n : NaN) };
  }
}

// ---------------------------------------------------------------------------------------------
// State of the current pass (one at a time), touched on every delivery

interface Pass {
  id: number;
  hist: Histogram;
  perSub: Int32Array;
  deliveries: number;
  firstSendAt: number;
  lastDeliveryAt: number;
  frameBytes: number | null;
}
let pass: Pass | null = null;
let passSeq = 0;

// ---------------------------------------------------------------------------------------------
// Raw subscribers

const endpoint = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as ChatEndpoint;

interface Sub {
  index: number;
  sock: Socket;
  state: 'handshake' | 'open' | 'joined' | 'closed';
  rest: Buffer | null;
  frag: Buffer[] | null;
  closeCode: number | null;
  onJoined: ((err: Error | null) => void) | null;
}

const subs: Sub[] = [];
const closeCodes: Record<string, number> = {};
let closedCount = 0;

function clientFrame(opcode: number, payload: Buffer): Buffer {
  const len = payload.length;
  const hdr = len < 126 ? 2 : 4;
  const out = Buffer.allocUnsafe(hdr + 4 + len);
  out[0] = 0x80 | opcode;
  if (len < 126) out[1] = 0x80 | len;
  else {
    out[1] = 0x80 | 126;
    out.writeUInt16BE(len, 2);
  }
  const mask = out.subarray(hdr, hdr + 4);
  randomFillSync(mask);
  for (let i = 0; i < len; i++) out[hdr + 4 + i] = payload[i]! ^ mask[i & 3]!;
  return out;
}

function upgradePath(): string {
  switch (endpoint.target) {
    case 'ws':
      return '/';
    case 'socketio':
      return '/socket.io/?EIO=4&transport=websocket';
    case 'streamplane': {
      const tokens = endpoint.tokens!;
      const token = tokens[subs.length % tokens.length]!;
      return `/ws/chat/${encodeURIComponent(endpoint.sessionId!)}?access_token=${encodeURIComponent(token)}`;
    }
  }
}

function openSub(timeoutMs: number): Promise<Sub> {
  return new Promise((resolve, reject) => {
    const sock = connect({ port: endpoint.port, host: '127.0.0.1', noDelay: true });
    const sub: Sub = { index: subs.length, sock, state: 'handshake', rest: null, frag: null, closeCode: null, onJoined: null };
    subs.push(sub);
    const timer = setTimeout(() => fail(new Error('timeout')), timeoutMs);
    let settled = false;
    const fail = (err: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      reject(err);
    };
    sub.onJoined = (err) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sub.onJoined = null;
      if (err) {
        sock.destroy();
        reject(err);
      } else resolve(sub);
    };
    const path = upgradePath();
    sock.once('connect', () => {
      sock.write(
        `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${endpoint.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      );
    });
    let head: Buffer | null = null;
    let refused: { status: number; body: string } | null = null;
    const failRefused = () => {
      // A refused handshake: keep what the problem document says (its `code`) for the report.
      const code = /"code"\s*:\s*"([^"]+)"/.exec(refused!.body)?.[1];
      fail(new Error(`http_${refused!.status}${code ? `_${code}` : ''}`));
    };
    sock.on('data', (chunk: Buffer) => {
      if (sub.state !== 'handshake') {
        onData(sub, chunk);
        return;
      }
      if (refused) {
        refused.body += chunk.toString('utf8');
        if (/"code"/.test(refused.body)) failRefused();
        return;
      }
      head = head ? Buffer.concat([head, chunk]) : chunk;
      const end = head.indexOf(CRLF2);
      if (end < 0) return;
      const statusLine = head.toString('latin1', 0, head.indexOf('\r\n'));
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(statusLine)?.[1] ?? 0);
      if (status !== 101) {
        refused = { status, body: head.toString('utf8', end + 4) };
        if (/"code"/.test(refused.body)) failRefused();
        else setTimeout(failRefused, 200);
        return;
      }
      sub.state = 'open';
      const after = head.subarray(end + 4);
      head = null;
      if (endpoint.target === 'ws') {
        sub.state = 'joined';
        sub.onJoined?.(null);
      }
      if (after.length > 0) onData(sub, after);
    });
    sock.on('error', (err) => fail(err));
    sock.on('close', () => {
      if (refused) {
        failRefused();
        return;
      }
      if (sub.state !== 'closed') {
        const wasJoined = sub.state === 'joined';
        sub.state = 'closed';
        if (wasJoined) {
          closedCount++;
          const k = String(sub.closeCode ?? 'no_close_frame');
          closeCodes[k] = (closeCodes[k] ?? 0) + 1;
        }
      }
      fail(new Error(sub.closeCode ? `closed_${sub.closeCode}` : 'closed'));
    });
  });
}

function onData(sub: Sub, chunk: Buffer) {
  const b = sub.rest ? Buffer.concat([sub.rest, chunk]) : chunk;
  const now = performance.now();
  let off = 0;
  const n = b.length;
  while (n - off >= 2) {
    const b0 = b[off]!;
    const b1 = b[off + 1]!;
    let len = b1 & 0x7f;
    let hdr = 2;
    if (len === 126) {
      if (n - off < 4) break;
      len = b.readUInt16BE(off + 2);
      hdr = 4;
    } else if (len === 127) {
      if (n - off < 10) break;
      len = Number(b.readBigUInt64BE(off + 2));
      hdr = 10;
    }
    if (n - off < hdr + len) break;
    const payload = b.subarray(off + hdr, off + hdr + len);
    off += hdr + len;
    const opcode = b0 & 0x0f;
    const fin = (b0 & 0x80) !== 0;
    if (opcode === 0 || !fin) {
      // Fragmented message: gather, handle at the final fragment.
      (sub.frag ??= []).push(Buffer.from(payload));
      if (fin) {
        const whole = Buffer.concat(sub.frag);
        sub.frag = null;
        onText(sub, whole, now);
      }
      continue;
    }
    if (opcode === 1) onText(sub, payload, now);
    else if (opcode === 9) sub.sock.write(clientFrame(10, payload));
    else if (opcode === 8) {
      sub.closeCode = payload.length >= 2 ? payload.readUInt16BE(0) : 1005;
      sub.sock.end(clientFrame(8, payload.subarray(0, 2)));
    }
  }
  sub.rest = off < n ? Buffer.from(b.subarray(off)) : null;
}

function onText(sub: Sub, payload: Buffer, now: number) {
  if (sub.state !== 'joined') {
    if (endpoint.target === 'socketio') {
      if (payload[0] === 0x30 /* 0: engine.io open */) sub.sock.write(clientFrame(1, Buffer.from('40')));
      else if (payload[0] === 0x34 && payload[1] === 0x30 /* 40: socket.io connect */) {
        sub.state = 'joined';
        sub.onJoined?.(null);
      } else if (payload[0] === 0x34 && payload[1] === 0x34 /* 44: connect error */) sub.onJoined?.(new Error('socketio_connect_error'));
      else if (payload[0] === 0x32) sub.sock.write(clientFrame(1, Buffer.from('3')));
    } else if (endpoint.target === 'streamplane') {
      if (payload.indexOf('"type":"joined"') >= 0) {
        sub.state = 'joined';
        sub.onJoined?.(null);
      }
    }
    return;
  }
  if (endpoint.target === 'socketio' && payload.length === 1 && payload[0] === 0x32) {
    sub.sock.write(clientFrame(1, Buffer.from('3')));
    return;
  }
  const p = pass;
  if (!p) return;
  const at = payload.indexOf(MARKER);
  if (at < 0) return;
  // bench|<pass>|<seq>|<t>|
  const s = payload.toString('latin1', at + 6, Math.min(payload.length, at + 60));
  const a = s.indexOf('|');
  if (Number(s.slice(0, a)) !== p.id) return;
  const b = s.indexOf('|', a + 1);
  const c = s.indexOf('|', b + 1);
  const t = Number(s.slice(b + 1, c));
  p.hist.record(now - t);
  p.perSub[sub.index]!++;
  p.deliveries++;
  p.lastDeliveryAt = now;
  if (p.frameBytes === null) p.frameBytes = payload.length;
}

async function connectMany(n: number, concurrency: number, timeoutMs: number): Promise<ConnectResult> {
  const t0 = performance.now();
  const failures: Record<string, number> = {};
  let joined = 0;
  let started = 0;
  let lastReport = t0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, n) }, async () => {
      while (started < n) {
        started++;
        try {
          await openSub(timeoutMs);
          joined++;
        } catch (err) {
          const k = err instanceof Error ? ((err as NodeJS.ErrnoException).code ?? err.message) : String(err);
          failures[k] = (failures[k] ?? 0) + 1;
        }
        const now = performance.now();
        if (now - lastReport > 2_000) {
          lastReport = now;
          log(`connect: ${joined}/${n} joined${Object.keys(failures).length ? `, failures ${JSON.stringify(failures)}` : ''}`);
        }
      }
    }),
  );
  const ms = performance.now() - t0;
  return { requested: n, joined, failed: n - joined, failures, open_total: openCount(), ms: Math.round(ms), per_s: Math.round((joined / ms) * 1000) };
}

const openCount = () => subs.reduce((k, s) => k + (s.state === 'joined' ? 1 : 0), 0);

// ---------------------------------------------------------------------------------------------
// The publisher

interface Publisher {
  send(text: string, seq: number): void;
  /** Called with the seq of each confirmed send, or with an error code for a refused one. */
  onConfirm: ((seq: number) => void) | null;
  onError: ((code: string, seq: number | null) => void) | null;
  close(): void;
}
let publisher: Publisher | null = null;

function openPublisher(): Promise<Publisher> {
  return new Promise((resolve, reject) => {
    const seqOf = (text: string): number | null => {
      const at = text.indexOf('bench|');
      if (at < 0) return null;
      const parts = text.slice(at + 6).split('|');
      return pass && Number(parts[0]) === pass.id ? Number(parts[1]) : null;
    };
    if (endpoint.target === 'socketio') {
      const socket: IoSocket = ioClient(`http://127.0.0.1:${endpoint.port}`, { transports: ['websocket'], forceNew: true, reconnection: false, timeout: 30_000 });
      const pub: Publisher = {
        send: (text) => void socket.emit('msg', text),
        onConfirm: null,
        onError: null,
        close: () => void socket.disconnect(),
      };
      socket.on('msg', (text: string) => {
        const seq = seqOf(text);
        if (seq !== null) pub.onConfirm?.(seq);
      });
      socket.once('connect', () => resolve(pub));
      socket.once('connect_error', (err) => reject(err));
      return;
    }
    const url =
      endpoint.target === 'ws'
        ? `ws://127.0.0.1:${endpoint.port}/`
        : `ws://127.0.0.1:${endpoint.port}/ws/chat/${encodeURIComponent(endpoint.sessionId!)}?access_token=${encodeURIComponent(endpoint.publisherToken!)}`;
    const ws = new WebSocket(url, { perMessageDeflate: false });
    const pub: Publisher = {
      send: (text, seq) => ws.send(endpoint.target === 'ws' ? text : JSON.stringify({ type: 'send', text, nonce: `n-${seq}` })),
      onConfirm: null,
      onError: null,
      close: () => ws.close(),
    };
    let opened = false;
    ws.on('message', (data: Buffer) => {
      const text = data.toString('utf8');
      if (endpoint.target === 'ws') {
        const seq = seqOf(text);
        if (seq !== null) pub.onConfirm?.(seq);
        return;
      }
      if (!opened) {
        if (text.includes('"type":"joined"')) {
          opened = true;
          resolve(pub);
        }
        return;
      }
      if (text.startsWith('{"type":"message"')) {
        // Our own copy of the broadcast (the sender is a member of the room).
        const seq = seqOf(text);
        if (seq !== null) half(seq);
        return;
      }
      let frame: { type?: string; nonce?: string; code?: string };
      try {
        frame = JSON.parse(text) as typeof frame;
      } catch {
        return;
      }
      const seq = frame.nonce?.startsWith('n-') ? Number(frame.nonce.slice(2)) : null;
      if (frame.type === 'ack' && seq !== null) half(seq);
      else if (frame.type === 'error') pub.onError?.(frame.code ?? 'error', seq);
    });
    // streamplane: a send is confirmed once both its ack and the publisher's own copy have arrived,
    // so that the burst window means "fanned out" as it does for the peers (whose only confirmation
    // is the publisher's own copy), whichever of the two the server sends first.
    const halves = new Map<number, true>();
    const half = (seq: number) => {
      if (halves.delete(seq)) pub.onConfirm?.(seq);
      else halves.set(seq, true);
    };
    ws.once('open', () => {
      if (endpoint.target === 'ws') {
        opened = true;
        resolve(pub);
      }
    });
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString('utf8')));
      res.on('end', () => reject(new Error(`publisher handshake: HTTP ${res.statusCode} ${body.slice(0, 300)}`)));
    });
    ws.once('error', (err) => reject(err));
    ws.once('close', (code, reason) => {
      if (!opened) reject(new Error(`publisher closed ${code} ${reason.toString()}`));
      else log(`publisher closed ${code} ${reason.toString()}`);
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Passes

function cpuUs(pid: number | undefined): number | null {
  if (!pid) return null;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) * 10_000;
  } catch {
    return null;
  }
}

/** Per-CPU [busy, total] jiffies from /proc/stat (cpu0, cpu1…). */
function cpuTimes(): Array<[number, number]> {
  try {
    const out: Array<[number, number]> = [];
    for (const line of readFileSync('/proc/stat', 'utf8').split('\n')) {
      const m = /^cpu(\d+) (.*)$/.exec(line);
      if (!m) continue;
      const f = m[2]!.trim().split(/\s+/).map(Number);
      const total = f.slice(0, 8).reduce((a, x) => a + x, 0);
      const idle = f[3]! + f[4]!;
      out[Number(m[1])] = [total - idle, total];
    }
    return out;
  } catch {
    return [];
  }
}

const pad = (text: string, chars: number) => (text.length >= chars ? text : text + 'x'.repeat(chars - text.length));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function beginPass(): { p: Pass; cpu0: number | null; own0: NodeJS.CpuUsage; closed0: number; machine0: Array<[number, number]> } {
  const p: Pass = { id: ++passSeq, hist: new Histogram(), perSub: new Int32Array(subs.length), deliveries: 0, firstSendAt: 0, lastDeliveryAt: 0, frameBytes: null };
  pass = p;
  return { p, cpu0: cpuUs(endpoint.serverPid), own0: process.cpuUsage(), closed0: closedCount, machine0: cpuTimes() };
}

function endPass(
  mode: 'burst' | 'paced',
  b: ReturnType<typeof beginPass>,
  counters: { sent: number; confirmed: number; errors: Record<string, number>; timedOut: boolean },
  extra: Partial<PassResult>,
): PassResult {
  const { p } = b;
  pass = null;
  const end = p.lastDeliveryAt || performance.now();
  const wallS = (end - p.firstSendAt) / 1000;
  const cpu1 = cpuUs(endpoint.serverPid);
  const own = process.cpuUsage(b.own0);
  const machine1 = cpuTimes();
  const cpuBusy = machine1.map(([busy, total], i) => {
    const [busy0, total0] = b.machine0[i] ?? [0, 0];
    return total > total0 ? Math.round(((busy - busy0) / (total - total0)) * 100) / 100 : null;
  });
  const serverCpuS = b.cpu0 === null || cpu1 === null ? null : (cpu1 - b.cpu0) / 1e6;
  let short = 0;
  const accepted = counters.sent - Object.values(counters.errors).reduce((a, x) => a + x, 0);
  for (const s of subs) if (s.state === 'joined' && s.index < p.perSub.length && p.perSub[s.index]! < accepted) short++;
  const open = openCount();
  return {
    mode,
    subscribers: open,
    messages_sent: counters.sent,
    messages_confirmed: counters.confirmed,
    send_errors: counters.errors,
    deliveries: p.deliveries,
    deliveries_expected: (counters.sent - Object.values(counters.errors).reduce((a, x) => a + x, 0)) * open,
    max_per_subscriber: p.perSub.reduce((a, x) => Math.max(a, x), 0),
    subscribers_short: short,
    duration_s: Math.round(wallS * 1000) / 1000,
    delivered_per_s: Math.round(p.deliveries / wallS),
    latency_ms: p.hist.summary(),
    frame_bytes: p.frameBytes,
    server_cpu_s: serverCpuS === null ? null : Math.round(serverCpuS * 1000) / 1000,
    server_cpu_us_per_delivery: serverCpuS === null || p.deliveries === 0 ? null : Math.round(((serverCpuS * 1e6) / p.deliveries) * 100) / 100,
    server_cpu_utilization: serverCpuS === null ? null : Math.round((serverCpuS / wallS) * 100) / 100,
    client_cpu_utilization: Math.round(((own.user + own.system) / 1e6 / wallS) * 100) / 100,
    cpu_busy: cpuBusy,
    timed_out: counters.timedOut,
    open_after: open,
    closed_during: closedCount - b.closed0,
    ...extra,
  };
}

/** Waits until every open subscriber has every confirmed message, or `stallMs` pass without a delivery. */
async function drain(p: Pass, expected: () => number, stallMs: number): Promise<boolean> {
  let last = p.deliveries;
  let lastChange = performance.now();
  for (;;) {
    if (p.deliveries >= expected()) return false;
    await sleep(5);
    if (p.deliveries !== last) {
      last = p.deliveries;
      lastChange = performance.now();
    } else if (performance.now() - lastChange > stallMs) return true;
  }
}

async function burst(messages: number, window: number, chars: number, stallMs: number): Promise<PassResult> {
  const pub = publisher!;
  const b = beginPass();
  const counters = { sent: 0, confirmed: 0, errors: {} as Record<string, number>, timedOut: false };
  let outstanding = 0;
  let settled = 0;
  let wake: (() => void) | null = null;
  const pump = () => {
    while (outstanding < window && counters.sent < messages) {
      const seq = counters.sent++;
      outstanding++;
      const t = performance.now();
      if (seq === 0) b.p.firstSendAt = t;
      pub.send(pad(`bench|${b.p.id}|${seq}|${t.toFixed(3)}|`, chars), seq);
    }
  };
  pub.onConfirm = () => {
    counters.confirmed++;
    outstanding--;
    settled++;
    pump();
    if (settled === messages) wake?.();
  };
  pub.onError = (code) => {
    counters.errors[code] = (counters.errors[code] ?? 0) + 1;
    outstanding--;
    settled++;
    pump();
    if (settled === messages) wake?.();
  };
  const allSettled = new Promise<void>((r) => (wake = r));
  pump();
  let last = settled;
  // Sends settle as the server confirms them; give up if nothing is confirmed for stallMs.
  for (;;) {
    const stalled = await Promise.race([allSettled.then(() => false), sleep(stallMs).then(() => true)]);
    if (!stalled || settled === messages) break;
    if (settled === last) {
      counters.timedOut = true;
      break;
    }
    last = settled;
  }
  if (!counters.timedOut) counters.timedOut = await drain(b.p, () => counters.confirmed * openCount(), stallMs);
  pub.onConfirm = null;
  pub.onError = null;
  return endPass('burst', b, counters, { window });
}

async function paced(rate: number, seconds: number, chars: number, stallMs: number): Promise<PassResult> {
  const pub = publisher!;
  const b = beginPass();
  const counters = { sent: 0, confirmed: 0, errors: {} as Record<string, number>, timedOut: false };
  pub.onConfirm = () => void counters.confirmed++;
  pub.onError = (code) => void (counters.errors[code] = (counters.errors[code] ?? 0) + 1);
  const total = Math.round(rate * seconds);
  const interval = 1000 / rate;
  const t0 = performance.now();
  b.p.firstSendAt = t0;
  let late = 0;
  await new Promise<void>((resolve) => {
    const tick = () => {
      const now = performance.now();
      while (counters.sent < total && t0 + counters.sent * interval <= now) {
        const due = t0 + counters.sent * interval;
        if (now - due > 5) late++;
        // The scheduled time, not the time we got round to it: a late generator shows in the latency.
        pub.send(pad(`bench|${b.p.id}|${counters.sent}|${due.toFixed(3)}|`, chars), counters.sent);
        counters.sent++;
      }
      if (counters.sent >= total) resolve();
      else setTimeout(tick, Math.max(0, Math.min(interval, t0 + counters.sent * interval - performance.now())));
    };
    tick();
  });
  // Every send that was not refused must reach every subscriber (a late confirmation does not make a
  // delivery less expected); wait for them, then briefly for the last confirmations.
  const refused = () => Object.values(counters.errors).reduce((a, x) => a + x, 0);
  counters.timedOut = await drain(b.p, () => (total - refused()) * openCount(), stallMs);
  const deadline = performance.now() + Math.min(stallMs, 2_000);
  while (counters.confirmed + refused() < total && performance.now() < deadline) await sleep(5);
  pub.onConfirm = null;
  pub.onError = null;
  return endPass('paced', b, counters, { late_sends: late, offered_rate: rate });
}

// ---------------------------------------------------------------------------------------------
// Control loop

function log(msg: string) {
  process.stderr.write(`[chat-clients ${endpoint.target}] ${msg}\n`);
}

interface Command {
  id: number;
  cmd: 'connect' | 'publisher' | 'burst' | 'paced' | 'status' | 'close';
  n?: number;
  concurrency?: number;
  timeout_ms?: number;
  messages?: number;
  window?: number;
  rate?: number;
  seconds?: number;
  chars?: number;
  stall_ms?: number;
}

async function run(c: Command): Promise<unknown> {
  switch (c.cmd) {
    case 'connect':
      return connectMany(c.n!, c.concurrency ?? 100, c.timeout_ms ?? 30_000);
    case 'publisher': {
      const t = performance.now();
      publisher = await openPublisher();
      return { ms: Math.round(performance.now() - t) };
    }
    case 'burst':
      return burst(c.messages!, c.window ?? 50, c.chars ?? 80, c.stall_ms ?? 10_000);
    case 'paced':
      return paced(c.rate!, c.seconds!, c.chars ?? 80, c.stall_ms ?? 10_000);
    case 'status':
      return { open: openCount(), closed: closedCount, close_codes: closeCodes, rss_kib: Math.round(process.memoryUsage.rss() / 1024) };
    case 'close': {
      publisher?.close();
      for (const s of subs) if (s.state !== 'closed') s.sock.resetAndDestroy();
      setTimeout(() => process.exit(0), 100);
      return { closed: subs.length };
    }
  }
}

const rl = createInterface({ input: process.stdin });
let queue = Promise.resolve();
rl.on('line', (line) => {
  let c: Command;
  try {
    c = JSON.parse(line) as Command;
  } catch {
    return;
  }
  queue = queue.then(async () => {
    try {
      const result = await run(c);
      process.stdout.write(`${JSON.stringify({ id: c.id, ok: true, result })}\n`);
    } catch (err) {
      process.stdout.write(`${JSON.stringify({ id: c.id, ok: false, error: err instanceof Error ? err.message : String(err) })}\n`);
    }
  });
});
rl.on('close', () => process.exit(0));
process.stdout.write(`${JSON.stringify({ id: 0, ok: true, result: 'ready' })}\n`);
