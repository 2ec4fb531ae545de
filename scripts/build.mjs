// Transpiles src/ to dist/ (one .js per .ts, same layout) and copies the SQL migrations, so that
// `npm start` runs plain JavaScript: loading the module graph through tsx's hooks cost ~0.5 s of every
// start. Runs before each `npm start` (prestart). Tests, the CLI and scripts keep running the
// TypeScript directly through tsx.
//
// Skipped when dist/ was built from exactly the current inputs: the build (~0.2 s, most of it loading
// and starting esbuild) was the largest part of a start outside the server process. The inputs are the
// content (SHA-256) of every file under src/ with its path, this script, tsconfig.json, and the esbuild
// and Node.js versions; dist/.build-inputs holds their hash, written last by a build that finished.
// Reading and hashing all of src/ costs ~20 ms, and unlike timestamps it cannot miss an edit (an edit
// within the clock's granularity, a checkout that restores older times, a file swapped for another of
// the same size). A removed or added file changes the hash too. dist/ is output only: edit src/.
import { createHash } from 'node:crypto';
import { cpSync, existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const src = join(root, 'src');
const out = join(root, 'dist');
const stamp = join(out, '.build-inputs');

function walk(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)]));
}
const files = walk(src).sort();

function inputsHash() {
  const hash = createHash('sha256');
  const esbuildVersion = JSON.parse(readFileSync(createRequire(import.meta.url).resolve('esbuild/package.json'), 'utf8')).version;
  hash.update(`esbuild ${esbuildVersion}\0node ${process.version}\0`);
  for (const f of [fileURLToPath(import.meta.url), join(root, 'tsconfig.json'), ...files]) {
    const content = readFileSync(f);
    hash.update(`${relative(root, f)}\0${content.length}\0`).update(content);
  }
  return hash.digest('hex');
}

const inputs = inputsHash();
if (!(existsSync(stamp) && readFileSync(stamp, 'utf8') === inputs && existsSync(join(out, 'main.js')))) {
  const { build } = await import('esbuild');
  const entryPoints = files.filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts') && !f.includes('/cli/'));
  rmSync(out, { recursive: true, force: true });
  await build({ entryPoints, outdir: out, outbase: src, platform: 'node', format: 'esm', target: 'node20', sourcemap: 'linked', logLevel: 'warning' });
  for (const f of files.filter((f) => f.endsWith('.sql'))) cpSync(f, join(out, relative(src, f)));
  writeFileSync(stamp, inputs);
}
