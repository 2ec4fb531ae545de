import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { cp, mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { createRequire } from 'node:module';

/**
 * A first start on a new PGlite data directory pays for initdb: 3 s of CPU on a quiet 2-vCPU machine,
 * more than the whole rest of a start (bench/README.md, startup). `npm ci` makes one initialized
 * directory per installed PGlite version (postinstall, `scripts/pglite-template.ts`) under
 * `node_modules/.cache/streamplane/`; a start on a directory that does not exist yet or is empty copies
 * it (~0.2 s for its ~40 MB) and opens it like any existing one. Without the template (install scripts
 * skipped, a read-only node_modules) PGlite runs initdb as before: the template is an optimization only.
 */

const READY = '.streamplane-template-ready';

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

/** Copies the template into `dataDir` when `dataDir` is missing or empty and a ready template exists. */
export async function seedFromTemplate(dataDir: string, template = templatePath()): Promise<boolean> {
  if (!existsSync(join(template, READY))) return false;
  if (existsSync(dataDir) && readdirSync(dataDir).length > 0) return false;
  await mkdir(dataDir, { recursive: true });
  await cp(template, dataDir, { recursive: true, filter: (src) => !src.endsWith(READY) });
  return true;
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
