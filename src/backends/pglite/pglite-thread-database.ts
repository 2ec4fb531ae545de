import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { DependencyUnavailableError } from '../../core/errors.js';
import type { Database, Queryable, QueryResult } from '../../core/ports/database.js';

/** What the worker needs to open its database (`loadDataDir`: a `dumpDataDir()` tarball). */
export interface ThreadOptions {
  dataDir?: string;
  loadDataDir?: ArrayBuffer;
}

/** What the main thread asks of the worker. A transaction is named by the id of its `begin`. */
type WorkerRequest =
  | { op: 'query'; sql: string; params?: readonly unknown[]; tx?: number }
  | { op: 'begin' }
  | { op: 'end'; tx: number; commit: boolean }
  | { op: 'ping' }
  | { op: 'dump' }
  | { op: 'close' };

/** Main thread → worker; `id` is unique per request. */
export type ToWorker = WorkerRequest & { id: number };

/** An error as it crosses the thread boundary: structured clone would drop a SQL error's fields. */
export interface SerializedError {
  name: string;
  message: string;
  stack?: string;
  fields: Record<string, string | number | boolean>;
}

/** Worker → main thread: exactly one per request. Id 0 says the database is open (or why not). */
export type FromWorker = { id: number } & ({ ok: true; value: unknown } | { ok: false; error: SerializedError });

function revive(e: SerializedError): Error {
  const err = new Error(e.message);
  err.name = e.name;
  if (e.stack !== undefined) err.stack = e.stack;
  return Object.assign(err, e.fields);
}

/**
 * The worker's entry. From dist/ it is plain JavaScript; from the TypeScript sources (tests, the CLI,
 * the bench) the worker loads it through tsx's API, because Node 20 does not apply `--import` hooks to
 * a worker's entry module.
 */
function workerEntry(): { code: string } | { url: URL } {
  const self = import.meta.url;
  if (!self.endsWith('.ts')) return { url: new URL('./pglite-thread-worker.js', self) };
  const entry = new URL('./pglite-thread-worker.ts', self).href;
  // tsx's ESM API (its package exports name the CommonJS one for require.resolve).
  const tsxApi = pathToFileURL(createRequire(self).resolve('tsx/esm/api').replace(/index\.cjs$/, 'index.mjs')).href;
  return { code: `import(${JSON.stringify(tsxApi)}).then((tsx) => tsx.tsImport(${JSON.stringify(entry)}, ${JSON.stringify(self)}))` };
}

interface Pending {
  resolve: (value: unknown) => void;
  reject: (err: Error) => void;
}

/**
 * The embedded Database, with PGlite in a worker thread. PGlite executes SQL synchronously in
 * WebAssembly and makes a lot of short-lived garbage for every statement; on the HTTP thread, every
 * statement and every collection of that garbage held up every socket (bench/README.md, on_publish:
 * the p99 of a media-server callback was set by those pauses). In a worker, statements and their
 * garbage collections run beside request handling, and callbacks that arrive meanwhile are read and
 * queued instead of waiting unread. A round trip costs a structured clone each way (tens of µs).
 *
 * Guarantees are the port's, with PGlite's single connection behind them (pglite-database.ts): a
 * `query` outside a transaction waits while one is open, so awaiting `db.query` inside a transaction
 * callback deadlocks; use the `tx` argument. A transaction handle used after its transaction ended is
 * refused. Errors keep their fields (`code` is the SQLSTATE). If the worker dies (a WebAssembly abort,
 * out of memory) every call rejects with DependencyUnavailableError: an in-memory database is gone
 * with it, so nothing is restarted behind the caller's back.
 *
 * The worker is referenced only while a request is outstanding, as a socket is: an open database
 * alone does not keep the process alive.
 */
export class PgliteThreadDatabase implements Database {
  readonly kind = 'pglite' as const;
  readonly #worker: Worker;
  readonly #pending = new Map<number, Pending>();
  #nextId = 1;
  #failure: Error | null = null;
  #closed = false;

  private constructor(worker: Worker) {
    this.#worker = worker;
    worker.on('message', (m: FromWorker) => this.#settle(m));
    worker.on('error', (err) => this.#fail(err));
    worker.on('exit', (code) => this.#fail(new Error(`the PGlite worker exited with code ${code}`)));
  }

  /** `dataDir` undefined keeps the database in memory; `loadDataDir` seeds it from `dumpDataDir()`. */
  static async open(opts: { dataDir?: string; loadDataDir?: Blob } = {}): Promise<PgliteThreadDatabase> {
    const data: ThreadOptions = {
      ...(opts.dataDir === undefined ? {} : { dataDir: opts.dataDir }),
      ...(opts.loadDataDir === undefined ? {} : { loadDataDir: await opts.loadDataDir.arrayBuffer() }),
    };
    const entry = workerEntry();
    const worker =
      'url' in entry ? new Worker(entry.url, { workerData: data }) : new Worker(entry.code, { eval: true, workerData: data });
    const db = new PgliteThreadDatabase(worker);
    // Id 0 is the worker's "open" answer; a new worker is referenced until it is settled.
    try {
      await new Promise((resolve, reject) => db.#pending.set(0, { resolve, reject }));
    } catch (err) {
      await worker.terminate();
      throw err;
    }
    return db;
  }

  #call<T>(req: WorkerRequest): Promise<T> {
    if (this.#failure) return Promise.reject(this.#failure);
    if (this.#closed) return Promise.reject(new Error('the database is closed'));
    const id = this.#nextId++;
    return new Promise<T>((resolve, reject) => {
      try {
        this.#worker.postMessage({ ...req, id });
      } catch (err) {
        // DataCloneError: a parameter that cannot cross threads (a function, a symbol).
        return reject(err);
      }
      if (this.#pending.size === 0) this.#worker.ref();
      this.#pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
    });
  }

  #settle(m: FromWorker): void {
    const p = this.#pending.get(m.id);
    if (!p) return;
    this.#pending.delete(m.id);
    if (this.#pending.size === 0) this.#worker.unref();
    if (m.ok) p.resolve(m.value);
    else p.reject(revive(m.error));
  }

  #fail(cause: Error): void {
    if (this.#closed && this.#pending.size === 0) return;
    this.#failure ??= new DependencyUnavailableError('database', cause);
    for (const p of this.#pending.values()) p.reject(this.#failure);
    this.#pending.clear();
  }

  query<R = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<QueryResult<R>> {
    return this.#call({ op: 'query', sql, params });
  }

  async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    const tx = await this.#call<number>({ op: 'begin' });
    let result: T;
    try {
      result = await fn({ query: (sql, params) => this.#call({ op: 'query', sql, params, tx }) });
    } catch (err) {
      await this.#call({ op: 'end', tx, commit: false }).catch(() => undefined);
      throw err;
    }
    await this.#call({ op: 'end', tx, commit: true });
    return result;
  }

  async ping(): Promise<void> {
    await this.#call({ op: 'ping' });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    if (this.#failure === null) await this.#call({ op: 'close' }).catch(() => undefined);
    this.#closed = true;
    await this.#worker.terminate();
  }

  /** A gzip tarball of the data directory, to start other instances quickly via `open({ loadDataDir })`. */
  async dumpDataDir(): Promise<Blob> {
    return new Blob([await this.#call<ArrayBuffer>({ op: 'dump' })]);
  }
}
