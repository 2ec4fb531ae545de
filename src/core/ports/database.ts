/**
 * Database: the seam is the SQL driver, not a repository interface. Every query is written once, in
 * PostgreSQL SQL with `$1` placeholders, and runs unchanged on PGlite and PostgreSQL.
 *
 * Guarantees:
 * - `query` runs one statement; parameters are always bound, never interpolated.
 * - `transaction` runs `fn` in one transaction on one connection, commits when it resolves and rolls
 *   back when it throws (the error is rethrown). Nested transactions are not supported.
 * - Timestamps are `timestamptz` in SQL and come back as JS `Date`; `bigint`/`int8` come back as strings
 *   on both drivers (callers convert), JSON columns come back parsed.
 * - When the server cannot be reached, calls reject with `DependencyUnavailableError` (core/errors.ts),
 *   which the HTTP layer answers with 503; the implementation reconnects by itself.
 * - SQL errors keep PostgreSQL's SQLSTATE on `error.code` (e.g. '23505' unique violation).
 */
export interface QueryResult<R> {
  rows: R[];
  rowCount: number;
}

export interface Queryable {
  query<R = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<QueryResult<R>>;
}

export interface Database extends Queryable {
  readonly kind: 'pglite' | 'postgres';
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  /** Cheap round trip for health checks; rejects when the database cannot answer. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
