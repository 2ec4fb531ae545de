import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { PgliteDatabase } from './pglite-database.js';
import { buildTemplate, seedFromTemplate, templatePath } from './pglite-template.js';

const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});
const scratch = async () => {
  const d = await mkdtemp(join(tmpdir(), 'sptest-template-'));
  dirs.push(d);
  return d;
};

it('a new data directory starts as a copy of the install-time template and opens as a database', async () => {
  // `npm ci` made it (postinstall); a checkout installed without scripts makes it here, once.
  expect(['built', 'present']).toContain(await buildTemplate());
  expect(templatePath()).toContain(join('node_modules', '.cache', 'streamplane', 'pglite-'));
  const root = await scratch();
  const dataDir = join(root, 'data');
  expect(await seedFromTemplate(dataDir)).toBe(true);
  expect(existsSync(join(dataDir, 'PG_VERSION'))).toBe(true);
  const db = await PgliteDatabase.open({ dataDir });
  await db.query('CREATE TABLE t (id int PRIMARY KEY)');
  await db.query('INSERT INTO t VALUES (1)');
  await db.close();
  // Existing data is never overwritten by the template.
  expect(await seedFromTemplate(dataDir)).toBe(false);
  const again = await PgliteDatabase.open({ dataDir });
  expect((await again.query('SELECT count(*)::int AS n FROM t')).rows[0]).toEqual({ n: 1 });
  await again.close();
});

it('leaves a directory alone when it has files or when no template is ready', async () => {
  const busy = await scratch();
  await writeFile(join(busy, 'something'), 'x');
  expect(await seedFromTemplate(busy)).toBe(false);
  const empty = join(await scratch(), 'new');
  const unready = join(await scratch(), 'template');
  await mkdir(unready);
  expect(await seedFromTemplate(empty, unready)).toBe(false);
  expect(existsSync(empty)).toBe(false);
});
