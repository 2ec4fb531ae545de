import { PGlite, types, type Results, type Transaction } from '@electric-sql/pglite';
import type { Database, Queryable, QueryResult } from '../../core/ports/database.js';

const identity = (x: string) => x;

/**
 * PGlite's defaults differ from node-postgres; these make rows look the same on both drivers, as the
 * Database port promises: int8 as a decimal string (PGlite gives number or bigint), numeric stays a
 * string. Array types are built from these element parsers by PGlite, so int8[] follows.
 * timestamptz -> Date and json/jsonb -> parsed are already PGlite's defaults.
 */
const PARSERS = {
  [types.INT8]: identity,
  [types.NUMERIC]: identity,
};

function toResult<R>(res: Results<R>): QueryResult<R> {
  // pg reports the number of rows returned for SELECT and the number affected for writes.
  return { rows: res.rows, rowCount: Math.max(res.affectedRows ?? 0, res.rows.length) };
}

/**
 * Without parameters the statement goes through the simple query protocol, as node-postgres does, so
 * the same SQL (including several `;`-separated statements, e.g. a migration file) runs on both
 * drivers; the last statement's result is returned, like pg's last element.
 */
async function run<R>(target: PGlite | Transaction, sql: string, params?: readonly unknown[]): Promise<QueryResult<R>> {
  if (params === undefined || params.length === 0) {
    const results = await target.exec(sql);
    const last = results[results.length - 1];
    return last ? toResult(last as Results<R>) : { rows: [], rowCount: 0 };
  }
  return toResult(await target.query<R>(sql, params as unknown[]));
}

/**
 * The embedded Database: PostgreSQL compiled to WebAssembly, one connection. PGlite's own mutexes make
 * `query` wait while a `transaction` holds the connection, so statements never interleave into someone
 * else's transaction. Consequence: calling `db.query` (instead of `tx.query`) from inside a transaction
 * callback and awaiting it deadlocks; always use the `tx` argument.
 */
export class PgliteDatabase implements Database {
  readonly kind = 'pglite' as const;
  readonly #db: PGlite;

  private constructor(db: PGlite) {
    this.#db = db;
  }

  /** `dataDir` undefined keeps the database in memory; `loadDataDir` seeds it from `dumpDataDir()`. */
  static async open(opts: { dataDir?: string; loadDataDir?: Blob } = {}): Promise<PgliteDatabase> {
    const db = await PGlite.create({
      ...(opts.dataDir === undefined ? {} : { dataDir: opts.dataDir }),
      ...(opts.loadDataDir === undefined ? {} : { loadDataDir: opts.loadDataDir }),
      parsers: PARSERS,
    });
    return new PgliteDatabase(db);
  }

  query<R = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<QueryResult<R>> {
    return run<R>(this.#db, sql, params);
  }

  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    return this.#db.transaction(async (tx) => {
      // PGlite's tx refuses use after it has committed or rolled back, so a leaked handle fails loudly.
      const queryable: Queryable = { query: (sql, params) => run(tx, sql, params) };
      return fn(queryable);
    });
  }

  async ping(): Promise<void> {
    await this.#db.query('SELECT 1');
  }

  async close(): Promise<void> {
    if (!this.#db.closed) await this.#db.close();
  }

  /** A gzip tarball of the data directory, to start other instances quickly via `open({ loadDataDir })`. */
  async dumpDataDir(): Promise<Blob> {
    return this.#db.dumpDataDir('gzip');
  }
}
