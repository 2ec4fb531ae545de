import type { Command } from 'commander';
import type { components, paths } from '../../../sdk/src/api-types.js';
import type { Ctx } from '../context.js';
import { integer, jsonObject } from '../parsers.js';
import { keyValues, table } from '../output.js';
import type { CommandDeps } from './deps.js';

type Session = components['schemas']['Session'];
type ListQuery = paths['/api/v1/sessions']['get']['parameters']['query'];
type SessionPage = paths['/api/v1/sessions']['get']['responses'][200]['content']['application/json'];

interface ListOptions {
  status?: string;
  limit?: number;
  cursor?: string;
  all?: boolean;
}

export function registerSessions(program: Command, { context }: CommandDeps): void {
  const sessions = program.command('sessions').description('Stream sessions');

  sessions
    .command('start')
    .description('Create a stream session (it goes live with the first accepted publish)')
    .option('--title <title>', 'shown to operators and viewers')
    .option('--max-viewers <n>', 'concurrent viewer cap', integer)
    .option('--metadata <json>', 'free-form JSON object, e.g. \'{"team":"news"}\'', jsonObject)
    .option('--idempotency-key <key>', 'makes a retry of this command replay the first answer instead of creating a second session')
    .action(async (opts: { title?: string; maxViewers?: number; metadata?: Record<string, unknown>; idempotencyKey?: string }, cmd: Command) => {
      const ctx = context(cmd);
      const body = {
        ...(opts.title !== undefined ? { title: opts.title } : {}),
        ...(opts.maxViewers !== undefined ? { max_viewers: opts.maxViewers } : {}),
        ...(opts.metadata !== undefined ? { metadata: opts.metadata } : {}),
      };
      const header = opts.idempotencyKey !== undefined ? { 'idempotency-key': opts.idempotencyKey } : undefined;
      const session = await ctx.call(ctx.api.POST('/api/v1/sessions/start', { body, params: { header } }));
      ctx.print(session, () => sessionDetails(session));
    });

  sessions
    .command('stop')
    .description('End a session (idempotent); its viewer tokens stop validating')
    .argument('<id>', 'session id (ses_…)')
    .option('--reason <reason>', 'recorded as end_reason')
    .action(async (id: string, opts: { reason?: string }, cmd: Command) => {
      const ctx = context(cmd);
      const body = { session_id: id, ...(opts.reason !== undefined ? { reason: opts.reason } : {}) };
      const session = await ctx.call(ctx.api.POST('/api/v1/sessions/stop', { body }));
      ctx.print(session, () => sessionDetails(session));
    });

  sessions
    .command('get')
    .description('A session with its viewer counts')
    .argument('<id>', 'session id (ses_…)')
    .action(async (id: string, _opts: object, cmd: Command) => {
      const ctx = context(cmd);
      const session = await ctx.call(ctx.api.GET('/api/v1/sessions/{id}', { params: { path: { id } } }));
      ctx.print(session, () => sessionDetails(session));
    });

  sessions
    .command('list')
    .description('List sessions, newest first')
    .option('--status <status>', 'created, live or ended')
    .option('--limit <n>', 'sessions per page (server default 20, at most 100)', integer)
    .option('--cursor <cursor>', 'next_cursor of the previous page')
    .option('--all', 'follow next_cursor through every page (prints one combined page)')
    .action(async (opts: ListOptions, cmd: Command) => {
      const ctx = context(cmd);
      const page = opts.all ? await listAll(ctx, opts) : await listPage(ctx, opts, opts.cursor);
      ctx.print(page, () => (page.data.length === 0 ? 'No sessions.\n' : sessionTable(page.data)));
      if (!ctx.json && page.next_cursor) ctx.io.err(`More sessions: add --cursor ${page.next_cursor} (or --all)\n`);
    });
}

function listPage(ctx: Ctx, opts: ListOptions, cursor: string | undefined): Promise<SessionPage> {
  const query = {
    ...(opts.status !== undefined ? { status: opts.status as ListQuery['status'] } : {}),
    ...(opts.limit !== undefined ? { limit: opts.limit } : {}),
    ...(cursor !== undefined ? { cursor } : {}),
  } as ListQuery; // limit has a server-side default, which the generated type reads as required.
  return ctx.call(ctx.api.GET('/api/v1/sessions', { params: { query } }));
}

async function listAll(ctx: Ctx, opts: ListOptions): Promise<SessionPage> {
  const data: Session[] = [];
  const seen = new Set<string>();
  let cursor = opts.cursor;
  const perPage = { ...opts, limit: opts.limit ?? 100 };
  for (;;) {
    const page = await listPage(ctx, perPage, cursor);
    data.push(...page.data);
    // A cursor seen before would loop forever; stop rather than trust the server blindly.
    if (!page.next_cursor || seen.has(page.next_cursor)) break;
    seen.add(page.next_cursor);
    cursor = page.next_cursor;
  }
  return { data, next_cursor: null };
}

function sessionDetails(s: Session): string {
  return keyValues([
    ['id', s.id],
    ['status', s.status],
    ['title', s.title],
    ['max_viewers', s.max_viewers],
    ['viewers', `${s.viewers.current} now, ${s.viewers.peak} peak, ${s.viewers.unique} unique`],
    ['metadata', Object.keys(s.metadata).length > 0 ? s.metadata : null],
    ['created_at', s.created_at],
    ['started_at', s.started_at],
    ['ended_at', s.ended_at],
    ['end_reason', s.end_reason],
  ]);
}

function sessionTable(list: Session[]): string {
  return table(
    ['id', 'status', 'viewers', 'created_at', 'title'],
    list.map((s) => [s.id, s.status, s.viewers.current, s.created_at, s.title]),
  );
}
