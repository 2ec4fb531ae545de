// postinstall: initializes one PGlite data directory per installed PGlite version, which a first
// `npm start` copies instead of running initdb (src/backends/pglite/pglite-template.ts). Never fails
// the install: without the template, the first start runs initdb as PGlite always does.
import { buildTemplate, templatePath } from '../src/backends/pglite/pglite-template.js';

const started = performance.now();
try {
  const outcome = await buildTemplate();
  if (outcome === 'built') console.log(`streamplane: PGlite data directory template ready in ${Math.round(performance.now() - started)} ms (${templatePath()})`);
} catch (err) {
  console.warn(`streamplane: no PGlite template (${(err as Error).message}); a first start will run initdb`);
}
