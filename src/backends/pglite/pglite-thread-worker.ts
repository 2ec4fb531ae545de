import { parentPort, workerData } from 'node:worker_threads';
import type { Queryable } from '../../core/ports/database.js';
import { PgliteDatabase } from './pglite-database.js';
import type { FromWorker, SerializedError, ThreadOptions, ToWorker } from './pglite-thread-database.js';

/**
 * The thread PGlite runs in (why: pglite-thread-database.ts). It serves one PgliteDatabase over the
 * worker's port: each request carries an id and gets exactly one answer with that id, in any order.
 */

const port = parentPort;
if (port === null) throw new Error('pglite-thread-worker runs as a worker thread only');

/** A transaction the main thread has begun and not yet ended, by the id of its `begin`. */
interface OpenTx {
  tx: Queryable;
  /** Lets the transaction's callback return (commit) or throw (roll back). */
  finish: (commit: boolean) => void;
  /** Settles when PGlite has committed or rolled back. */
  done: Promise<void>;
}

const ROLLBACK = Symbol('rollback');

/** Every own string, number and boolean field, so a SQL error keeps `code`, `constraint`, `detail`… */
function serialize(err: unknown): SerializedError {
  if (!(err instanceof Error)) return { name: 'Error', message: String(err), fields: {} };
  const fields: Record<string, string | number | boolean> = {};
  for (const [k, v] of Object.entries(err)) if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') fields[k] = v;
  return { name: err.name, message: err.message, stack: err.stack, fields };
}

// A dump's bytes are moved, not copied; every other answer is cloned.
const send = (m: FromWorker) => port.postMessage(m, m.ok && m.value instanceof ArrayBuffer ? [m.value] : undefined);

async function serve(db: PgliteDatabase): Promise<void> {
  const txs = new Map<number, OpenTx>();

  async function begin(): Promise<OpenTx> {
    let entered!: (tx: Queryable) => void;
    let finish!: (commit: boolean) => void;
    const inside = new Promise<Queryable>((resolve) => (entered = resolve));
    const decided = new Promise<boolean>((resolve) => (finish = resolve));
    const done = db
      .transaction(async (tx) => {
        entered(tx);
        if (!(await decided)) throw ROLLBACK;
      })
      .catch((err: unknown) => {
        if (err !== ROLLBACK) throw err;
      });
    // PGlite may refuse to begin (closed database): then `done` settles without the callback running.
    const tx = await Promise.race([inside, done.then(() => Promise.reject(new Error('the transaction ended before it began')))]);
    return { tx, finish, done };
  }

  async function handle(m: ToWorker): Promise<unknown> {
    switch (m.op) {
      case 'query': {
        if (m.tx === undefined) return db.query(m.sql, m.params);
        const open = txs.get(m.tx);
        if (!open) throw new Error('this transaction is closed: use its handle inside the callback only');
        return open.tx.query(m.sql, m.params);
      }
      case 'begin':
        txs.set(m.id, await begin());
        return m.id;
      case 'end': {
        const open = txs.get(m.tx);
        if (!open) throw new Error('this transaction is closed');
        txs.delete(m.tx);
        open.finish(m.commit);
        await open.done;
        return null;
      }
      case 'ping':
        return db.ping();
      case 'dump':
        return (await db.dumpDataDir()).arrayBuffer();
      case 'close':
        await db.close();
        return null;
    }
  }

  port!.on('message', (m: ToWorker) => {
    handle(m).then(
      (value) => {
        try {
          send({ id: m.id, ok: true, value });
        } catch (err) {
          // A value that cannot be cloned must fail its own call, not the worker.
          send({ id: m.id, ok: false, error: serialize(err) });
        }
      },
      (err: unknown) => send({ id: m.id, ok: false, error: serialize(err) }),
    );
  });
}

const opts = workerData as ThreadOptions;
PgliteDatabase.open({
  ...(opts.dataDir === undefined ? {} : { dataDir: opts.dataDir }),
  ...(opts.loadDataDir === undefined ? {} : { loadDataDir: new Blob([opts.loadDataDir]) }),
}).then(
  async (db) => {
    await serve(db);
    send({ id: 0, ok: true, value: null });
  },
  (err: unknown) => send({ id: 0, ok: false, error: serialize(err) }),
);
