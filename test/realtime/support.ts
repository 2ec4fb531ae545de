import WebSocket from 'ws';
import { eventually, operator, type TestApp } from '../helpers/app.js';

export type Frame = Record<string, unknown> & { type: string };

/** A real WebSocket client that records every frame and the close. */
export class TestSocket {
  readonly frames: Frame[] = [];
  closed: { code: number; reason: string } | null = null;
  /** Per frame type: how many of that type `next` has handed out. */
  private readonly taken = new Map<string, number>();

  constructor(readonly ws: WebSocket) {
    ws.on('message', (data, isBinary) => {
      if (!isBinary) this.frames.push(JSON.parse(data.toString()) as Frame);
    });
    ws.on('close', (code, reason) => (this.closed = { code, reason: reason.toString() }));
    ws.on('error', () => {});
  }

  send(frame: unknown) {
    this.ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  /** The next frame of `type` not yet handed out, waiting for it. */
  async next(type: string, timeoutMs = 5_000): Promise<Frame> {
    return eventually(() => {
      const n = this.taken.get(type) ?? 0;
      const f = this.of(type)[n];
      if (f) this.taken.set(type, n + 1);
      return f ?? null;
    }, { timeoutMs });
  }

  of(type: string) {
    return this.frames.filter((f) => f.type === type);
  }

  async closedWith(timeoutMs = 5_000) {
    return eventually(() => this.closed, { timeoutMs });
  }

  close() {
    this.ws.close();
  }
}

/** Opens a socket; resolves once open, or rejects with the HTTP status of a refused handshake. */
export function openSocket(url: string, opts: { protocols?: string[]; headers?: Record<string, string> } = {}): Promise<TestSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, opts.protocols ?? [], { headers: opts.headers });
    const t = new TestSocket(ws);
    ws.once('open', () => resolve(t));
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => reject(Object.assign(new Error(`handshake refused: ${res.statusCode}`), { status: res.statusCode, body: body ? JSON.parse(body) : null, headers: res.headers })));
    });
    ws.once('error', (err) => reject(err));
  });
}

/** Status and problem document of a refused handshake. */
export async function refused(p: Promise<unknown>): Promise<{ status: number; body: { code: string; detail: string; status: number } }> {
  try {
    await p;
  } catch (err) {
    const e = err as { status?: number; body?: { code: string; detail: string; status: number } };
    if (e.status) return { status: e.status, body: e.body! };
    throw err;
  }
  throw new Error('the handshake was accepted');
}

export async function newSession(t: TestApp): Promise<string> {
  const res = await t.app.inject({ method: 'POST', url: '/api/v1/sessions/start', headers: operator(), payload: {} });
  return res.json().id as string;
}

export async function mint(t: TestApp, sessionId: string, viewerId: string, scopes: string[] = ['view', 'chat'], ttl?: number): Promise<string> {
  const res = await t.app.inject({ method: 'POST', url: '/api/v1/auth/tokens', headers: operator(), payload: { session_id: sessionId, viewer_id: viewerId, scopes, ...(ttl ? { ttl_seconds: ttl } : {}) } });
  if (res.statusCode !== 201 && res.statusCode !== 200) throw new Error(`mint failed: ${res.statusCode} ${res.body}`);
  return res.json().access_token as string;
}

export const wsBase = (httpBase: string) => httpBase.replace(/^http/, 'ws');
