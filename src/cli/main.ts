import { readFileSync } from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import { loadCliConfig } from '../config/cli-config.js';
import { registerIngest } from './commands/ingest.js';
import { registerKeys } from './commands/keys.js';
import { registerSessions } from './commands/sessions.js';
import { registerStart } from './commands/start.js';
import { registerTokens } from './commands/tokens.js';
import { createContext } from './context.js';
import { EXIT, EXIT_CODES_HELP } from './exit-codes.js';
import { createIo, jsonLine, reportError, type Io } from './output.js';

const VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/**
 * Runs the `streamplane` command with `argv` (process.argv layout) and resolves to its exit code.
 * Only `start` runs the server; every other command is an HTTP client of one.
 */
export async function main(argv: string[]): Promise<number> {
  const env = loadCliConfig();
  // Parsing may fail before the options are known, so secrets and --json are also read from argv.
  const io = createIo([...(env.apiKey ? [env.apiKey] : []), ...apiKeysIn(argv)]);
  const json = argv.includes('--json');
  const program = buildProgram(io, json, env);
  try {
    await program.parseAsync(argv);
    return EXIT.ok;
  } catch (err) {
    // Commander has already printed its message; --help and --version end here too, with 0.
    if (err instanceof CommanderError) return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
    return reportError(io, err, json);
  }
}

function buildProgram(io: Io, json: boolean, env: ReturnType<typeof loadCliConfig>): Command {
  const program = new Command('streamplane')
    .description('Streamplane: control plane for live video. `start` runs the server; the other commands talk to a running one over its HTTP API.')
    .version(VERSION, '-V, --version')
    .addOption(new Option('--url <url>', 'server base URL (default: $STREAMPLANE_URL, else http://127.0.0.1:$PORT or :8080)'))
    // No default shown: the key must never appear in --help.
    .addOption(new Option('--api-key <key>', 'operator API key (default: $STREAMPLANE_API_KEY, else $STREAMPLANE_ADMIN_KEY)'))
    .option('--json', 'machine output: the API\'s JSON on stdout, errors as problem JSON on stderr')
    .addHelpText('afterAll', `\n${EXIT_CODES_HELP}\n\nDocs: docs/cli.md`)
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.out(s),
      writeErr: (s) => io.err(s),
      outputError: (s, write) => write(json ? jsonLine({ code: 'usage_error', detail: s.replace(/^error: /, '').trim() }) : s),
    });
  if (!json) program.showHelpAfterError('(add --help for usage)');

  const deps = { context: (cmd: Command) => createContext(cmd, io, env) };
  registerStart(program);
  registerKeys(program, deps);
  registerSessions(program, deps);
  registerTokens(program, deps);
  registerIngest(program, deps);
  return program;
}

/** Values given to --api-key, in either `--api-key K` or `--api-key=K` form. */
function apiKeysIn(argv: string[]): string[] {
  const found: string[] = [];
  argv.forEach((arg, i) => {
    if (arg === '--api-key' && argv[i + 1] !== undefined) found.push(argv[i + 1]!);
    else if (arg.startsWith('--api-key=')) found.push(arg.slice('--api-key='.length));
  });
  return found;
}
