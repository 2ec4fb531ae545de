import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, expect, it } from 'vitest';

const REPO = fileURLToPath(new URL('../..', import.meta.url));

/**
 * scripts/build.mjs (npm prestart) skips the build when dist/ came from the same inputs. It runs here on
 * a project of its own (a copy of the script and tsconfig.json, a two-file src/, the repository's
 * node_modules), never on the repository's dist/, which running servers use.
 */
const project = mkdtempSync(join(tmpdir(), 'sptest-build-'));
afterAll(() => rmSync(project, { recursive: true, force: true }));
mkdirSync(join(project, 'scripts'));
cpSync(join(REPO, 'scripts', 'build.mjs'), join(project, 'scripts', 'build.mjs'));
cpSync(join(REPO, 'tsconfig.json'), join(project, 'tsconfig.json'));
symlinkSync(join(REPO, 'node_modules'), join(project, 'node_modules'), 'dir');
mkdirSync(join(project, 'src', 'migrations'), { recursive: true });
writeFileSync(join(project, 'src', 'main.ts'), `import { answer } from './answer.js';\nconsole.log(answer);\n`);
writeFileSync(join(project, 'src', 'answer.ts'), `export const answer: number = 41;\n`);
writeFileSync(join(project, 'src', 'migrations', '0001_init.sql'), 'CREATE TABLE t (id int);\n');

const dist = (...p: string[]) => join(project, 'dist', ...p);
const build = () => execFileSync(process.execPath, ['scripts/build.mjs'], { cwd: project, stdio: 'pipe' });
const run = () => execFileSync(process.execPath, [dist('main.js')], { encoding: 'utf8' }).trim();
/** A file of our own in dist/: a build starts by removing dist/, a skipped build leaves it. */
const mark = () => writeFileSync(dist('marker'), 'x');
const rebuilt = () => !existsSync(dist('marker'));

it('builds, then skips while no input changed', () => {
  build();
  expect(run()).toBe('41');
  expect(readFileSync(dist('migrations', '0001_init.sql'), 'utf8')).toContain('CREATE TABLE');
  mark();
  build();
  expect(rebuilt()).toBe(false);
});

it('rebuilds after an edit, even one that keeps the size and the modification time', () => {
  const file = join(project, 'src', 'answer.ts');
  const { atime, mtime } = statSync(file);
  writeFileSync(file, `export const answer: number = 42;\n`);
  utimesSync(file, atime, mtime);
  mark();
  build();
  expect(rebuilt()).toBe(true);
  expect(run()).toBe('42');
});

it('rebuilds when a file is added or removed, a migration changes, or dist/ lost its output', () => {
  const changes = [
    () => writeFileSync(join(project, 'src', 'extra.ts'), 'export {};\n'),
    () => rmSync(join(project, 'src', 'extra.ts')),
    () => writeFileSync(join(project, 'src', 'migrations', '0001_init.sql'), 'CREATE TABLE t (id int, n int);\n'),
    () => rmSync(dist('main.js')),
  ];
  for (const change of changes) {
    mark();
    change();
    build();
    expect(rebuilt()).toBe(true);
    expect(run()).toBe('42');
  }
  expect(readFileSync(dist('migrations', '0001_init.sql'), 'utf8')).toContain('n int');
  expect(existsSync(dist('extra.js'))).toBe(false);
});

it('rebuilds when the previous build did not finish (no record of its inputs)', () => {
  rmSync(dist('.build-inputs'));
  mark();
  build();
  expect(rebuilt()).toBe(true);
  expect(existsSync(dist('.build-inputs'))).toBe(true);
});
