import { progress } from './lib/report.js';
import { chatFanout } from './scenarios/chat-fanout.js';
import { ingestFailover } from './scenarios/ingest-failover.js';
import { onPublish } from './scenarios/on-publish.js';
import { sessionsStart } from './scenarios/sessions-start.js';
import { statsParse } from './scenarios/stats-parse.js';
import { startup } from './scenarios/startup.js';
import { telemetry } from './scenarios/telemetry.js';
import { validateToken } from './scenarios/validate-token.js';
import { wsMemory } from './scenarios/ws-memory.js';

/**
 * `npm run bench [-- scenario…]`: runs the named scenarios (default: all) one after the other and
 * prints one JSON line per measured case on stdout; progress goes to stderr. No assertions: the lines
 * carry the figures, the peer measured in the same run, the ratio and the target.
 */
const SCENARIOS: Record<string, () => Promise<void>> = {
  validate_token: validateToken,
  sessions_start: sessionsStart,
  startup,
  stats_parse: statsParse,
  ingest_failover: ingestFailover,
  on_publish: onPublish,
  chat_fanout: chatFanout,
  ws_memory: wsMemory,
  telemetry,
};

const asked = process.argv.slice(2);
const unknown = asked.filter((a) => !(a in SCENARIOS));
if (unknown.length > 0) {
  process.stderr.write(`bench: unknown scenario ${unknown.join(', ')}; available: ${Object.keys(SCENARIOS).join(', ')}\n`);
  process.exit(2);
}
const names = asked.length > 0 ? asked : Object.keys(SCENARIOS);
const started = performance.now();
for (const name of names) {
  progress(`=== ${name}`);
  await SCENARIOS[name]!();
}
progress(`done in ${((performance.now() - started) / 1000).toFixed(0)} s`);
