// Transpiles src/ to dist/ (one .js per .ts, same layout) and copies the SQL migrations, so that
// `npm start` runs plain JavaScript: loading the module graph through tsx's hooks cost ~0.5 s of every
// start. Runs before each `npm start` (prestart) in ~0.3 s, so dist/ is never stale. Tests, the CLI
// and scripts keep running the TypeScript directly through tsx.
import { build } from 'esbuild';
import { cpSync, readdirSync, rmSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const src = join(root, 'src');
const out = join(root, 'dist');

function walk(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)]));
}
const files = walk(src);
const entryPoints = files.filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts') && !f.includes('/cli/'));

rmSync(out, { recursive: true, force: true });
await build({ entryPoints, outdir: out, outbase: src, platform: 'node', format: 'esm', target: 'node20', sourcemap: 'linked', logLevel: 'warning' });
for (const f of files.filter((f) => f.endsWith('.sql'))) cpSync(f, join(out, relative(src, f)));
