import { readFileSync } from 'node:fs';
import type { Migration } from './backends/migrator.js';
import { ConfigError, loadConfig, processEnv, type Config } from './config/config.js';
import { pathToFileURL } from 'node:url';
import { tuneGarbageCollector } from './gc-tuning.js';

const VERSION = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/**
 * Starts the services named by STREAMPLANE_SERVICES on one port: reads the config, creates the
 * backends, applies migrations, listens, and on SIGTERM/SIGINT stops accepting, finishes in-flight
 * requests and closes the backends within STREAMPLANE_SHUTDOWN_TIMEOUT_MS.
 */
export async function run(overrides: Record<string, string> = {}): Promise<void> {
  const env = { ...processEnv(), ...overrides };
  let config;
  try {
    config = loadConfig(env, VERSION);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`streamplane: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const startedAt = performance.now();
  const concurrentMarking = tuneGarbageCollector(config.gcConcurrentMarking);
  // A new PGlite data directory starts as a copy of the install-time template that already has exactly
  // the migrations this start applies, when there is one (else createBackends copies the plain initdb
  // template). The copy starts before the application's modules load (~0.3 s, which is why they are
  // imported here and not at the top), so the two overlap; which migrations apply is known only after.
  const dataDir = config.database.kind === 'pglite' ? config.database.dataDir : null;
  const seeding = dataDir
    ? import('./backends/pglite/pglite-template.js').then(({ beginSeeding }) => beginSeeding(dataDir)).catch(() => null)
    : null;
  const [{ buildApp }, { createBackends }, { migrate }, { default: closeWithGrace }] = await Promise.all([
    import('./app.js'),
    import('./backends/create-backends.js'),
    import('./backends/migrator.js'),
    import('close-with-grace'),
  ]);
  const migrations = await startMigrations(config);
  await (await seeding)?.finish(migrations.flat()).catch(() => false);
  const backends = await createBackends(config, { onError: (err, where) => process.stderr.write(`${JSON.stringify({ level: 'warn', service: 'streamplane', message: `backend error in ${where}`, error: String(err) })}\n`) });
  for (const service of migrations) await migrate(backends.database, service);

  let bootstrapKey: string | null = null;
  const app = await buildApp({ config, backends, onBootstrapKey: (k) => (bootstrapKey = k) });
  const closer = closeWithGrace({ delay: config.shutdownTimeoutMs }, async ({ signal, err }) => {
    if (err) app.log.error({ err }, 'fatal error, shutting down');
    else app.log.info({ signal }, 'shutting down');
    await app.close();
    await backends.close();
  });
  app.addHook('onClose', async () => closer.uninstall());

  const address = await app.listen({ port: config.port, host: config.host });
  const where = address.replace('0.0.0.0', '127.0.0.1');
  const lines = [
    '',
    `  Streamplane ${VERSION} (${config.services.join(', ')}) listening on ${address}`,
    `  API docs:  ${where}/docs   OpenAPI: ${where}/openapi.json   health: ${where}/health`,
    `  database:  ${config.database.kind === 'postgres' ? 'PostgreSQL' : config.database.dataDir ? `PGlite in ${config.database.dataDir}` : 'PGlite in memory (throwaway)'}; bus/presence: ${config.redis ? 'Redis' : 'in memory'}`,
    `  GC:        concurrent marking ${concurrentMarking ? 'on' : 'off'} (STREAMPLANE_GC_CONCURRENT_MARKING=${config.gcConcurrentMarking})`,
    `  ready in ${Math.round(performance.now() - startedAt)} ms`,
  ];
  if (bootstrapKey) {
    // Shown exactly once, on the first start; only its hash is stored.
    lines.push('', '  First start: created an operator API key. Store it now, it is not shown again:', `    ${bootstrapKey}`, `  e.g. export STREAMPLANE_API_KEY=${bootstrapKey}`);
  }
  process.stdout.write(`${lines.join('\n')}\n\n`);
}

/** The migrations a start with `config` applies, one list per service, in the order they are applied. */
export async function startMigrations(config: Config): Promise<Migration[][]> {
  const [{ serviceMigrations }, { readMigrations }] = await Promise.all([import('./app.js'), import('./backends/migrator.js')]);
  return Promise.all((await serviceMigrations(config)).map(({ service, dir }) => readMigrations(service, dir)));
}

/** What a start with the default configuration applies, per service (the install-time template has them). */
export async function defaultStartMigrations(): Promise<Migration[][]> {
  return startMigrations(loadConfig({}, VERSION));
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  run().catch((err) => {
    process.stderr.write(`streamplane: failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
