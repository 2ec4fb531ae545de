import type { Command } from 'commander';
import type { paths } from '../../../sdk/src/api-types.js';
import { commaList, integer } from '../parsers.js';
import { keyValues } from '../output.js';
import type { CommandDeps } from './deps.js';

type Scope = paths['/api/v1/auth/tokens']['post']['requestBody']['content']['application/json']['scopes'][number];

export function registerTokens(program: Command, { context }: CommandDeps): void {
  const tokens = program.command('tokens').description('Viewer tokens');

  tokens
    .command('mint')
    .description('Mint a viewer access + refresh token pair')
    .requiredOption('--session <id>', 'session id (ses_…)')
    .requiredOption('--viewer <id>', 'your id for the viewer')
    .option('--scopes <list>', 'comma-separated: view, chat, moderate, publish_captions', commaList, ['view'])
    .option('--ttl <seconds>', 'access token lifetime (default: the server\'s)', integer)
    .action(async (opts: { session: string; viewer: string; scopes: string[]; ttl?: number }, cmd: Command) => {
      const ctx = context(cmd);
      const pair = await ctx.call(
        ctx.api.POST('/api/v1/auth/tokens', {
          // Unknown scopes are the server's to refuse, with its own message.
          body: { session_id: opts.session, viewer_id: opts.viewer, scopes: opts.scopes as Scope[], ...(opts.ttl !== undefined ? { ttl_seconds: opts.ttl } : {}) },
        }),
      );
      ctx.print(pair, () =>
        keyValues([
          ['access_token', pair.access_token],
          ['refresh_token', pair.refresh_token],
          ['token_type', pair.token_type],
          ['scope', pair.scope],
          ['expires_in', `${pair.expires_in} s`],
          ['refresh_expires_in', `${pair.refresh_expires_in} s`],
        ]),
      );
    });
}
