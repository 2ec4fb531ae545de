// postinstall: initializes one PGlite data directory per installed PGlite version, and a copy of it with
// the migrations of a default start (all services) applied, which a first `npm start` copies instead of
// running initdb and the migrations (src/backends/pglite/pglite-template.ts). Never fails the install:
// without the templates, the first start runs initdb and applies the migrations as PGlite always did.
// Run it again (`node --import tsx scripts/pglite-template.ts`) after changing a migration: until
// then a first start copies the plain template and applies the migrations itself.
import { buildMigratedTemplate, buildTemplate, migratedTemplatePath, templatePath } from '../src/backends/pglite/pglite-template.js';

const started = performance.now();
try {
  const outcome = await buildTemplate();
  if (outcome === 'built') console.log(`streamplane: PGlite data directory template ready in ${Math.round(performance.now() - started)} ms (${templatePath()})`);
} catch (err) {
  console.warn(`streamplane: no PGlite template (${(err as Error).message}); a first start will run initdb`);
}

const migrating = performance.now();
try {
  // The list a start with the default configuration applies, read the way src/main.ts reads it.
  const { defaultStartMigrations } = await import('../src/main.js');
  const migrations = (await defaultStartMigrations()).flat();
  const outcome = await buildMigratedTemplate(migrations);
  if (outcome === 'built') console.log(`streamplane: PGlite template with ${migrations.length} migrations applied ready in ${Math.round(performance.now() - migrating)} ms (${migratedTemplatePath(migrations)})`);
} catch (err) {
  console.warn(`streamplane: no migrated PGlite template (${(err as Error).message}); a first start will apply the migrations itself`);
}
