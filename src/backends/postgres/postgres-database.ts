import pg from 'pg';
import type { Database, Queryable, QueryResult } from '../../core/ports/database.js';
import { DependencyUnavailableError } from '../../core/errors.js';
import { describeError, redactUrl } from '../describe-error.js';
import { isConnectionError } from './connection-errors.js';

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

function checkSchema(schema: string): string {
  if (!SCHEMA_NAME.test(schema)) {
    throw new Error(`invalid schema name ${JSON.stringify(schema)}: use lower-case letters, digits and _ (max 63, not starting with a digit)`);
  }
  return schema;
}

function wrap(err: unknown): unknown {
  if (err instanceof DependencyUnavailableError) return err;
  return isConnectionError(err) ? new DependencyUnavailableError('database', err) : err;
}

function toResult<R>(res: pg.QueryResult | pg.QueryResult[]): QueryResult<R> {
  // Several statements without parameters give one result each (simple protocol); keep the last, as PGlite does.
  const last = Array.isArray(res) ? res[res.length - 1] : res;
  if (!last) return { rows: [], rowCount: 0 };
  return { rows: last.rows as R[], rowCount: last.rowCount ?? last.rows.length };
}

export interface PostgresOptions {
  url: string;
  /** Every pooled connection uses it as its only search_path; created if missing. */
  schema?: string;
  poolMax?: number;
  connectTimeoutMs?: number;
  /** Errors of idle connections (server restart, network cut); the pool has already dropped them. */
  onError?: (err: unknown) => void;
}

/**
 * PostgreSQL through a pg Pool. Connections that break are dropped and replaced on the next call, so a
 * database restart costs the calls in flight (rejected with DependencyUnavailableError) and nothing more.
 */
export class PostgresDatabase implements Database {
  readonly kind = 'postgres' as const;
  readonly #pool: pg.Pool;

  private constructor(pool: pg.Pool) {
    this.#pool = pool;
  }

  /** Opens the pool and checks that the server answers (creating `schema` if given). */
  static async open(opts: PostgresOptions): Promise<PostgresDatabase> {
    const schema = opts.schema === undefined ? undefined : checkSchema(opts.schema);
    const pool = new pg.Pool({
      connectionString: opts.url,
      max: opts.poolMax ?? 10,
      connectionTimeoutMillis: opts.connectTimeoutMs ?? 5_000,
      keepAlive: true,
      application_name: 'streamplane',
      ...(schema === undefined ? {} : { options: `-c search_path=${schema}` }),
    });
    // Without a listener, an idle connection dying (e.g. server restart) would crash the process.
    pool.on('error', (err) => opts.onError?.(err));
    const db = new PostgresDatabase(pool);
    try {
      if (schema === undefined) {
        await db.ping();
      } else {
        await db.#createSchema(schema);
      }
    } catch (err) {
      await pool.end().catch(() => undefined);
      if (err instanceof DependencyUnavailableError) {
        const reason = describeError(err.cause);
        throw new DependencyUnavailableError('database', new Error(`cannot reach PostgreSQL at ${redactUrl(opts.url)} (DATABASE_URL): ${reason}`, { cause: err.cause }));
      }
      throw err;
    }
    return db;
  }

  /** Drops a schema and everything in it; for tests that created one per run. */
  static async dropSchema(url: string, schema: string): Promise<void> {
    const client = new pg.Client({ connectionString: url });
    client.on('error', () => undefined);
    try {
      await client.connect();
      await client.query(`DROP SCHEMA IF EXISTS "${checkSchema(schema)}" CASCADE`);
    } catch (err) {
      throw wrap(err);
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  query<R = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<QueryResult<R>> {
    return this.#withClient((client) => runOn<R>(client, sql, params));
  }

  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    return this.#withClient(async (client) => {
      let open = true;
      const tx: Queryable = {
        query: <R>(sql: string, params?: readonly unknown[]) => {
          if (!open) return Promise.reject(new Error('Transaction is closed'));
          return runOn<R>(client, sql, params);
        },
      };
      await runOn(client, 'BEGIN');
      try {
        const result = await fn(tx);
        open = false;
        await runOn(client, 'COMMIT');
        return result;
      } catch (err) {
        open = false;
        // If the connection is gone the server rolls back by itself; the original error is what matters.
        await runOn(client, 'ROLLBACK').catch(() => undefined);
        throw err;
      }
    });
  }

  async ping(): Promise<void> {
    await this.query('SELECT 1');
  }

  async close(): Promise<void> {
    if (!this.#pool.ending) await this.#pool.end();
  }

  async #createSchema(schema: string): Promise<void> {
    try {
      await this.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
    } catch (err) {
      // Two instances creating the schema at once can race on the catalog's unique index; the loser is fine.
      if ((err as { code?: string }).code !== '23505') throw err;
    }
  }

  /**
   * Runs `fn` on one pooled connection. Unlike pool.query, a SQL error (say a unique violation) keeps
   * the connection; only connection-level failures discard it.
   */
  async #withClient<T>(fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await this.#pool.connect();
    } catch (err) {
      throw wrap(err);
    }
    let broken: unknown;
    // A checked-out connection has no pool listener: its 'error' event would otherwise be unhandled.
    const onError = (err: unknown) => {
      broken = err;
    };
    client.on('error', onError);
    try {
      return await fn(client);
    } catch (err) {
      if (err instanceof DependencyUnavailableError || isConnectionError(err)) broken ??= err;
      throw wrap(err);
    } finally {
      client.off('error', onError);
      client.release(broken === undefined ? undefined : (broken as Error));
    }
  }
}

function runOn<R>(client: pg.PoolClient, sql: string, params?: readonly unknown[]): Promise<QueryResult<R>> {
  const result = params === undefined || params.length === 0 ? client.query(sql) : client.query(sql, params as unknown[]);
  return (result as Promise<pg.QueryResult | pg.QueryResult[]>).then(toResult<R>, (err: unknown) => Promise.reject(wrap(err)));
}
