import type { Command } from 'commander';
import { CliError } from '../errors.js';
import { EXIT } from '../exit-codes.js';
import { integer } from '../parsers.js';

export function registerStart(program: Command): void {
  program
    .command('start')
    .description('Run the server in this process (configured by the environment: PORT, DATABASE_URL, STREAMPLANE_*)')
    .option('--port <port>', 'port to listen on (overrides PORT)', integer)
    .option('--host <host>', 'interface to listen on (overrides HOST)')
    .action(async (opts: { port?: number; host?: string }) => {
      const overrides: Record<string, string> = {};
      if (opts.port !== undefined) overrides.PORT = String(opts.port);
      if (opts.host !== undefined) overrides.HOST = opts.host;
      // Imported here so client commands never load the server, its database and its backends.
      const { run } = await import('../../main.js');
      try {
        // Resolves once listening; the open server keeps the process alive until SIGTERM/SIGINT.
        await run(overrides);
      } catch (err) {
        throw new CliError(EXIT.failure, 'start_failed', `failed to start: ${err instanceof Error ? err.message : String(err)}`);
      }
    });
}
