import type { Command } from 'commander';
import type { Ctx } from '../context.js';

/** Built once per run by main.ts; commands take their context from it after commander has parsed. */
export interface CommandDeps {
  context(cmd: Command): Ctx;
}
