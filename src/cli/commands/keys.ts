import type { Command } from 'commander';
import type { paths } from '../../../sdk/src/api-types.js';
import { keyValues, table } from '../output.js';
import type { CommandDeps } from './deps.js';

type ApiKey = paths['/api/v1/keys']['get']['responses'][200]['content']['application/json']['data'][number];

export function registerKeys(program: Command, { context }: CommandDeps): void {
  const keys = program.command('keys').description('Operator API keys');

  keys
    .command('create')
    .description('Create an operator API key (its secret is shown once)')
    .requiredOption('--name <name>', 'what the key is for, e.g. "ci" or "dashboard"')
    .action(async (opts: { name: string }, cmd: Command) => {
      const ctx = context(cmd);
      const created = await ctx.call(ctx.api.POST('/api/v1/keys', { body: { name: opts.name } }));
      ctx.print(created, () => keyValues([['id', created.id], ['name', created.name], ['created_at', created.created_at], ['key', created.key]]));
      // stderr, so the warning stays on screen even when stdout goes to a file.
      if (!ctx.json) ctx.io.err('Store this key now: it is not shown again (only its hash is kept).\n');
    });

  keys
    .command('list')
    .description('List operator API keys (never their secrets)')
    .action(async (_opts: object, cmd: Command) => {
      const ctx = context(cmd);
      const list = await ctx.call(ctx.api.GET('/api/v1/keys'));
      ctx.print(list, () => (list.data.length === 0 ? 'No API keys.\n' : keyTable(list.data)));
    });

  keys
    .command('revoke')
    .description('Revoke an operator API key (idempotent)')
    .argument('<id>', 'key id, as shown by `keys list`')
    .action(async (id: string, _opts: object, cmd: Command) => {
      const ctx = context(cmd);
      const revoked = await ctx.call(ctx.api.DELETE('/api/v1/keys/{id}', { params: { path: { id } } }));
      ctx.print(revoked, () => `Revoked API key ${revoked.id} (${revoked.name}) at ${revoked.revoked_at ?? '-'}\n`);
    });
}

function keyTable(keys: ApiKey[]): string {
  return table(
    ['id', 'name', 'status', 'created_at', 'last_used_at'],
    keys.map((k) => [k.id, k.name, k.revoked_at ? 'revoked' : 'active', k.created_at, k.last_used_at]),
  );
}
