import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { cp, mkdir, readdir, rename, rm, rmdir, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { createRequire } from 'node:module';
import { migrate, type Migration } from '../migrator.js';

/**
 * A first start on a new PGlite data directory pays for initdb: 3 s of CPU on a quiet 2-vCPU machine,
 * more than the whole rest of a start (bench/README.md, startup). `npm ci` makes one initialized
 * directory per installed PGlite version (postinstall, `scripts/pglite-template.ts`) under
 * `node_modules/.cache/streamplane/`; a start on a directory that does not exist yet or is empty copies
 * it and opens it like any existing one. Without the template (install scripts skipped, a read-only
 * node_modules) PGlite runs initdb as before: the template is an optimization only.
 *
 * Applying the migrations to that empty database was the next biggest cost of a first start (~0.5 s,
 * most of it PGlite planning and executing DDL for the first time), so postinstall also makes a second
 * template: the first one with the project's migrations applied by the migrator itself. Its directory
 * is named after a hash of the migrations' ids and contents, so a start uses it only when it is about
 * to apply exactly that list; an added, removed or edited migration (or another STREAMPLANE_SERVICES
 * set) names a template that does not exist, and the start copies the plain one and migrates as before.
 */

const READY = '.streamplane-template-ready';

/** A directory that exists and holds something: a database, or what a start must not overwrite. */
const hasEntries = (dir: string) => existsSync(dir) && readdirSync(dir).length > 0;

/** The start of the name of every migrated template next to the plain template `base`. */
const migratedPrefix = (base: string) => `${basename(base)}-migrated-`;

/** Where the template of the installed PGlite version lives (it may not exist). */
export function templatePath(): string {
  // createRequire rather than import.meta.resolve, which vitest's module runner lacks.
  let dir = dirname(createRequire(import.meta.url).resolve('@electric-sql/pglite'));
  // Up from the package's entry file to its root (the folder with its package.json).
  while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir);
  const version = (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { version: string }).version;
  // <node_modules>/@electric-sql/pglite → <node_modules>/.cache/streamplane/
  return join(dirname(dirname(dir)), '.cache', 'streamplane', `pglite-${version}`);
}

/**
 * Where the template with exactly `migrations` applied (in this order) lives, next to the plain
 * template `base` (so it belongs to the same PGlite version). It may not exist.
 */
export function migratedTemplatePath(migrations: readonly Migration[], base = templatePath()): string {
  const hash = createHash('sha256');
  // Lengths first, so that no two different lists hash the same input.
  for (const m of migrations) hash.update(`${Buffer.byteLength(m.id)}:${m.id}${Buffer.byteLength(m.sql)}:${m.sql}`);
  return join(dirname(base), `${migratedPrefix(base)}${hash.digest('hex').slice(0, 20)}`);
}

/**
 * Copies a template into `dataDir` when `dataDir` is missing or empty: the one with `migrations`
 * already applied when it exists, else the plain initdb one. Says which it copied (false: none, the
 * directory is left as it was).
 */
export async function seedFromTemplate(
  dataDir: string,
  opts: { template?: string; migrations?: readonly Migration[] } = {},
): Promise<'migrated' | 'initdb' | false> {
  if (hasEntries(dataDir)) return false;
  const base = opts.template ?? templatePath();
  const migrated = opts.migrations && opts.migrations.length > 0 ? migratedTemplatePath(opts.migrations, base) : null;
  const [from, kind] = migrated !== null && existsSync(join(migrated, READY)) ? [migrated, 'migrated' as const] : [base, 'initdb' as const];
  if (!existsSync(join(from, READY))) return false;
  const copy = (to: string) => cp(from, to, { recursive: true, filter: (src) => !src.endsWith(READY) });
  // Into a scratch directory renamed into place: a copy that fails halfway (disk full, killed) must not
  // leave a directory the next start takes for a database.
  const scratch = scratchFor(dataDir);
  try {
    await copyToScratch(scratch, copy);
    if (await placeDir(scratch, dataDir)) return kind;
  } catch {
    // The parent may not be writable (dataDir a mounted volume): copy into dataDir itself below.
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
  const existed = existsSync(dataDir);
  await mkdir(dataDir, { recursive: true });
  try {
    await copy(dataDir);
  } catch (err) {
    if (existed) await emptyDir(dataDir);
    else await rm(dataDir, { recursive: true, force: true });
    throw err;
  }
  return kind;
}

/** Where a copy meant for `dataDir` is made before it is renamed into place (`placeDir`). */
const scratchFor = (dataDir: string) => `${dataDir}.seeding-${process.pid}`;

/** Runs `copy` into a fresh `scratch` (whatever an earlier attempt left there is removed first). */
async function copyToScratch(scratch: string, copy: (to: string) => Promise<void>): Promise<void> {
  await rm(scratch, { recursive: true, force: true });
  await mkdir(dirname(scratch), { recursive: true });
  await copy(scratch);
}

/** Removes what a failed copy left in a directory that cannot itself be replaced. */
async function emptyDir(dir: string): Promise<void> {
  for (const name of await readdir(dir).catch(() => [])) await rm(join(dir, name), { recursive: true, force: true });
}

/** A copy of a template started before the list of migrations is known; see `beginSeeding`. */
export interface Seeding {
  /** Puts the right template in place for `migrations` (as `seedFromTemplate` would) and says which. */
  finish(migrations: readonly Migration[]): Promise<'migrated' | 'initdb' | false>;
}

/**
 * Starts copying the migrated template into a scratch directory next to `dataDir` right away, so the
 * copy (0.3–1.5 s on the 2-vCPU bench machine: ~1,100 files, one creation each) runs while the caller
 * loads the application's modules (~0.3 s) and only then learns which migrations it applies.
 * `finish` checks that the copy is the template of exactly those migrations (same hash as
 * `seedFromTemplate` uses) and renames it into place; otherwise it removes it and seeds as
 * `seedFromTemplate` does. Which template to start with is a guess: the one migrated template next to
 * the plain one (postinstall removes the others). Also, `dataDir` appears whole or not at all.
 */
export function beginSeeding(dataDir: string, base = templatePath()): Seeding {
  const direct: Seeding = { finish: (migrations) => seedFromTemplate(dataDir, { template: base, migrations }) };
  if (hasEntries(dataDir)) return { finish: async () => false };
  const prefix = migratedPrefix(base);
  const ready = existsSync(dirname(base))
    ? readdirSync(dirname(base)).filter((n) => n.startsWith(prefix) && !n.includes('.tmp-') && existsSync(join(dirname(base), n, READY)))
    : [];
  if (ready.length !== 1) return direct;
  const guess = join(dirname(base), ready[0]!);
  const scratch = scratchFor(dataDir);
  const copying = copyToScratch(scratch, (to) => copyInWorker(guess, to)).then(
    () => true,
    () => false,
  );
  return {
    async finish(migrations) {
      const copied = await copying;
      if (copied && migrations.length > 0 && migratedTemplatePath(migrations, base) === guess && (await placeDir(scratch, dataDir))) return 'migrated';
      await rm(scratch, { recursive: true, force: true });
      return direct.finish(migrations);
    },
  };
}

/**
 * Copies a template in a worker thread. `fs.promises.cp` takes a turn of the main thread between its
 * steps, so while the main thread compiles and runs the application's modules the copy barely moved:
 * measured, nothing was gained by starting it early. In a worker (~30 ms to start) it runs beside them.
 */
async function copyInWorker(from: string, to: string): Promise<void> {
  const { Worker } = await import('node:worker_threads');
  const code = `const { cpSync } = require('node:fs');
const { workerData: d } = require('node:worker_threads');
cpSync(d.from, d.to, { recursive: true, filter: (src) => !src.endsWith(d.ready) });`;
  const worker = new Worker(code, { eval: true, workerData: { from, to, ready: READY } });
  await new Promise<void>((resolve, reject) => {
    worker.once('error', reject);
    worker.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`template copy exited with ${code}`))));
  });
}

/** Renames `from` to `to` if `to` is missing or an empty directory; false when it cannot (e.g. `to` is a mount point). */
async function placeDir(from: string, to: string): Promise<boolean> {
  try {
    if (existsSync(to)) {
      if (readdirSync(to).length > 0) return false;
      await rmdir(to);
    }
    await rename(from, to);
    return true;
  } catch {
    return false;
  }
}

/** Makes the template (initdb into a scratch folder, then one rename) unless it is already there. */
export async function buildTemplate(template = templatePath()): Promise<'built' | 'present'> {
  if (existsSync(join(template, READY))) return 'present';
  const scratch = `${template}.tmp-${process.pid}`;
  await rm(scratch, { recursive: true, force: true });
  await mkdir(dirname(template), { recursive: true });
  const { PGlite } = await import('@electric-sql/pglite');
  const db = await PGlite.create({ dataDir: scratch });
  await db.query('SELECT 1');
  await db.close();
  await writeFile(join(scratch, READY), 'initdb done\n');
  await rm(template, { recursive: true, force: true });
  await rename(scratch, template);
  return 'built';
}

/**
 * Makes the template with `migrations` applied, unless it is already there: a copy of the plain
 * template (built first if needed) migrated by `migrate` — the migrator a start runs, so the result is
 * what a start on a copy of the plain template would produce — then one rename. Templates of other
 * migration lists next to it are removed: nothing can use them any more.
 */
export async function buildMigratedTemplate(migrations: readonly Migration[], base = templatePath()): Promise<'built' | 'present'> {
  const template = migratedTemplatePath(migrations, base);
  if (existsSync(join(template, READY))) return 'present';
  await buildTemplate(base);
  const scratch = `${template}.tmp-${process.pid}`;
  await rm(scratch, { recursive: true, force: true });
  if ((await seedFromTemplate(scratch, { template: base })) !== 'initdb') throw new Error(`could not copy the template ${base}`);
  const { PgliteDatabase } = await import('./pglite-database.js');
  const db = await PgliteDatabase.open({ dataDir: scratch });
  try {
    const applied = await migrate(db, [...migrations]);
    if (applied.length !== migrations.length) throw new Error(`applied ${applied.length} of ${migrations.length} migrations`);
  } finally {
    await db.close();
  }
  await writeFile(join(scratch, READY), `migrations applied:\n${migrations.map((m) => `${m.id}\n`).join('')}`);
  await rm(template, { recursive: true, force: true });
  await rename(scratch, template);
  const prefix = migratedPrefix(base);
  for (const name of await readdir(dirname(base))) {
    const path = join(dirname(base), name);
    if (name.startsWith(prefix) && path !== template && !name.includes('.tmp-')) await rm(path, { recursive: true, force: true });
  }
  return 'built';
}
