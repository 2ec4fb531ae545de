import type { Command } from 'commander';
import createClient, { type Client } from 'openapi-fetch';
import type { CliConfig } from '../config/cli-config.js';
import type { paths } from '../../sdk/src/api-types.js';
import { apiError, CliError, unreachable, usageError } from './errors.js';
import { EXIT } from './exit-codes.js';
import { jsonLine, type Io } from './output.js';

export type Api = Client<paths>;

/** What every command gets: the resolved global options and a typed client of the server. */
export interface Ctx {
  io: Io;
  json: boolean;
  api: Api;
  /** Resolves an openapi-fetch call to its data, or throws the CliError its answer means. */
  call<D>(pending: Promise<{ data?: D; error?: unknown; response: Response }>): Promise<D>;
  /** `--json` prints the API's document; otherwise the human rendering. */
  print(data: unknown, human: () => string): void;
}

export interface GlobalOptions {
  url?: string;
  apiKey?: string;
  json?: boolean;
}

/** Long enough for a slow database, short enough that a wedged server does not hang a script. */
const REQUEST_TIMEOUT_MS = 30_000;

export function createContext(cmd: Command, io: Io, env: CliConfig): Ctx {
  const opts = cmd.optsWithGlobals<GlobalOptions>();
  const json = opts.json === true;
  const base = parseBaseUrl(opts.url ?? env.url);
  const apiKey = opts.apiKey ?? env.apiKey;
  // fetch would reject such a header with a message that quotes it, key included.
  if (apiKey !== null && !/^[\x21-\x7e]+$/.test(apiKey)) throw usageError('the API key contains characters that cannot be sent in an HTTP header.');

  const api = createClient<paths>({
    baseUrl: base.href.replace(/\/$/, ''),
    headers: apiKey ? { authorization: `Bearer ${apiKey}` } : {},
    fetch: async (request) => {
      try {
        return await fetch(request, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
      } catch (err) {
        throw unreachable(base.origin, err);
      }
    },
  });

  return {
    io,
    json,
    api,
    async call(pending) {
      let answer: Awaited<typeof pending>;
      try {
        answer = await pending;
      } catch (err) {
        // A 2xx body that is not JSON: something else answers at this URL (a proxy page, another app).
        if (err instanceof SyntaxError) throw new CliError(EXIT.failure, 'bad_response', `the server at ${base.origin} did not answer with JSON: is --url pointing at Streamplane?`);
        throw err;
      }
      const { data, error, response } = answer;
      if (!response.ok) {
        const hint = response.status === 401 || response.status === 403
          ? apiKey ? 'The API key was refused: check --api-key / STREAMPLANE_API_KEY.' : 'No API key given: pass --api-key or set STREAMPLANE_API_KEY.'
          : undefined;
        throw apiError(response.status, error, hint);
      }
      return data as NonNullable<typeof data>;
    },
    print(data, human) {
      io.out(json ? jsonLine(data) : human());
    },
  };
}

function parseBaseUrl(raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw usageError(`--url ${JSON.stringify(raw)} is not a URL (e.g. http://127.0.0.1:8080).`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw usageError(`--url must be http:// or https://, not ${url.protocol}`);
  // fetch refuses URLs with credentials, and they would be printed back in errors.
  if (url.username || url.password) throw usageError('--url must not contain credentials; pass the key with --api-key.');
  return url;
}
