import { PGlite } from '@electric-sql/pglite';
import { seedFromTemplate } from '../../src/backends/pglite/pglite-template.js';

/**
 * A startup floor: the bare cost of opening PGlite on a data directory in a fresh `node --import tsx`
 * process, with nothing else loaded. A new directory is prepared as Streamplane prepares one (a copy of
 * the install-time initdb template when there is one, else PGlite's initdb). Prints one JSON line once a query has
 * answered, then idles until SIGTERM so the parent can read its resident set size.
 */
const dataDir = process.argv[2];
if (!dataDir) throw new Error('usage: pglite-open.ts <data dir>');
await seedFromTemplate(dataDir);
const db = await PGlite.create({ dataDir });
await db.query('SELECT 1');
process.stdout.write(`${JSON.stringify({ event: 'ready', since_process_start_ms: Math.round(performance.now()) })}\n`);
const keepAlive = setInterval(() => {}, 60_000);
process.once('SIGTERM', () => {
  clearInterval(keepAlive);
  db.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
});
