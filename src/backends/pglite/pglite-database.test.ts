import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PgliteDatabase } from './pglite-database.js';

// Instances are opened one after another (never two at once): each costs ~0.8 GB while open.
describe('PgliteDatabase data directories', () => {
  const dirs: string[] = [];
  afterAll(async () => {
    await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
  });

  it('dumps a database and starts new instances from the dump, in memory or in a directory that persists', async () => {
    const original = await PgliteDatabase.open();
    await original.query(`CREATE TABLE seeded (id int8 PRIMARY KEY, at timestamptz NOT NULL DEFAULT now())`);
    await original.query('INSERT INTO seeded (id) VALUES ($1)', ['9007199254740993']);
    const dump = await original.dumpDataDir();
    await original.close();
    expect(dump.size).toBeGreaterThan(0);

    const dir = await mkdtemp(join(tmpdir(), 'sptest-pglite-'));
    dirs.push(dir);
    const fromDump = await PgliteDatabase.open({ dataDir: dir, loadDataDir: dump });
    const { rows } = await fromDump.query<{ id: string; at: Date }>('SELECT id, at FROM seeded');
    expect(rows).toHaveLength(1);
    expect(rows[0]!.id).toBe('9007199254740993'); // parsers apply to instances started from a dump too
    expect(rows[0]!.at).toBeInstanceOf(Date);
    await fromDump.query('INSERT INTO seeded (id) VALUES (2)');
    await fromDump.close();
    await fromDump.close(); // idempotent

    const reopened = await PgliteDatabase.open({ dataDir: dir });
    expect((await reopened.query('SELECT id FROM seeded ORDER BY id')).rows).toEqual([{ id: '2' }, { id: '9007199254740993' }]);
    await reopened.close();
  }, 60_000);
});
