import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Database } from '../core/ports/database.js';

export interface Migration {
  /** `<service>/<file name>`; applied in order of file name within a service, services in the given order. */
  id: string;
  sql: string;
}

/** Reads `NNNN_name.sql` files of one service's migrations folder. */
export async function readMigrations(service: string, dir: string): Promise<Migration[]> {
  const files = (await readdir(dir)).filter((f) => f.endsWith('.sql')).sort();
  return Promise.all(files.map(async (f) => ({ id: `${service}/${f}`, sql: await readFile(join(dir, f), 'utf8') })));
}

/**
 * Applies the migrations not yet applied, all in one transaction. The transaction-scoped advisory lock
 * makes instances that start together take turns (the second sees the first's work and applies
 * nothing); on PGlite the lock is trivially ours. Returns the ids it applied.
 */
export async function migrate(db: Database, migrations: Migration[]): Promise<string[]> {
  return db.transaction(async (tx) => {
    await tx.query(`SELECT pg_advisory_xact_lock(hashtext('streamplane.migrations:' || current_schema()))`);
    await tx.query(`CREATE TABLE IF NOT EXISTS streamplane_migrations (id text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`);
    const done = new Set((await tx.query<{ id: string }>('SELECT id FROM streamplane_migrations')).rows.map((r) => r.id));
    const applied: string[] = [];
    for (const m of migrations) {
      if (done.has(m.id)) continue;
      for (const statement of splitStatements(m.sql)) await tx.query(statement);
      await tx.query('INSERT INTO streamplane_migrations (id) VALUES ($1)', [m.id]);
      applied.push(m.id);
    }
    return applied;
  });
}

/**
 * Splits a migration into statements at a ';' that ends a line, because PGlite's (extended protocol)
 * query runs one statement at a time. Migrations therefore keep function bodies on one line or use
 * dollar quoting without line-final semicolons.
 */
export function splitStatements(sql: string): string[] {
  return sql
    .split(/;[ \t]*(?:--[^\n]*)?\r?\n|;[ \t]*$/)
    .map((s) => s.replace(/^\s*(--[^\n]*\n\s*)*/, '').trim())
    .filter((s) => s.length > 0);
}
