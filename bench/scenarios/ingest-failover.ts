import { ffmpegAvailable, startDualPublisher } from '../../test/e2e/support/ffmpeg.ts';
import { NGINX_RTMP_MODULE, nginxAvailable, type NginxRtmp } from '../../test/e2e/support/nginx-rtmp.ts';
import { ProcessGroup, waitFor, withDeadline } from '../../test/e2e/support/processes.ts';
import { retireNode, startNode, startStreamplane, type IngestNodeDoc, type Streamplane } from '../../test/e2e/support/streamplane.ts';
import { emit, median, progress, round } from '../lib/report.js';

const TRIALS = 10;
const TARGET_MS = 5_000;
/** How long a trial waits for the switch before counting it as missed (recorded as null, met = false). */
const GIVE_UP_MS = 30_000;
const POLL_MS = 50;

interface Node {
  doc: IngestNodeDoc;
  nginx: NginxRtmp;
  machine: string;
}

interface Status {
  status: string;
  active_side: 'primary' | 'backup';
  sides: { primary: { state: string }; backup: { state: string } | null };
}

/**
 * ingest_failover_detection: the real server (dist/, default poll 1000 ms, stall 3000 ms, monitor
 * 500 ms) and two real nginx-rtmp nodes on two "machines"; ffmpeg pushes one encode to both (tee).
 * Each trial: a new session and redundant ingest, the dual push, both sides receiving, then SIGKILL of
 * the primary's nginx process group; the figure is the time from the kill to the first status poll
 * (every 50 ms) with active_side = backup. The dead node is then replaced by a fresh nginx on new
 * ports (a new node registration), so the next trial again has two healthy nodes.
 */
export async function ingestFailover(): Promise<void> {
  const missing = [
    !nginxAvailable() && `nginx with the RTMP module (${NGINX_RTMP_MODULE})`,
    !ffmpegAvailable() && 'ffmpeg',
  ].filter(Boolean);
  if (missing.length > 0) {
    progress(`ingest_failover_detection: skipped, not installed: ${missing.join(', ')}`);
    emit({ scenario: 'ingest_failover_detection', skipped: `not installed: ${missing.join(', ')}` });
    return;
  }

  // Everything started here (server, nginx process groups, ffmpeg) is in this group: killed in the
  // finally, and on process exit (lib/children.ts turns SIGINT/SIGTERM/SIGHUP into an exit).
  const procs = new ProcessGroup();
  let sp: Streamplane | undefined;
  try {
    progress('ingest_failover_detection: building dist/ and starting the server (memory://, default ingest intervals)');
    sp = await startStreamplane({ LOG_LEVEL: 'warn' }, procs);
    const server = sp;
    let serial = 0;
    const newNode = async (machine: string): Promise<Node> => {
      const { node, nginx } = await startNode(server, `bench-${machine}-${++serial}`, machine);
      return { doc: node, nginx, machine };
    };
    const nodes: Node[] = [await newNode('nginx-a'), await newNode('nginx-b')];

    const samples: Array<number | null> = [];
    const details: Array<Record<string, unknown>> = [];
    for (let trial = 1; trial <= TRIALS; trial++) {
      const session = await call<{ id: string }>(server, 'POST', '/api/v1/sessions/start', {}, 201);
      const ing = await call<{ id: string; stream_key: string; primary: { node_id: string; publish_url: string }; backup: { node_id: string; publish_url: string } | null }>(
        server, 'POST', '/api/v1/ingest/start', { session_id: session.id, redundant: true }, 201,
      );
      if (!ing.backup) throw new Error(`trial ${trial}: redundant ingest without a backup: ${JSON.stringify(ing)}`);
      const primary = nodes.find((n) => n.doc.id === ing.primary.node_id);
      if (!primary) throw new Error(`trial ${trial}: primary ${ing.primary.node_id} is not one of this bench's live nodes`);

      const ffmpeg = procs.add(startDualPublisher(ing.primary.publish_url, ing.backup.publish_url, { durationSeconds: 300 }));
      const statusOf = () => call<Status>(server, 'GET', `/api/v1/ingest/${ing.id}/status`, undefined, 200);
      await waitFor(`trial ${trial}: both sides receiving`, async () => {
        const s = await statusOf();
        return s.status === 'live' && s.sides.primary.state === 'receiving' && s.sides.backup?.state === 'receiving';
      }, { timeoutMs: 30_000 });

      const killedAt = performance.now();
      primary.nginx.kill('SIGKILL');
      let ms: number | null = null;
      while (performance.now() - killedAt < GIVE_UP_MS) {
        const s = await statusOf();
        if (s.active_side === 'backup') {
          ms = performance.now() - killedAt;
          break;
        }
        await new Promise((r) => setTimeout(r, POLL_MS));
      }
      const final = await statusOf();
      samples.push(ms === null ? null : round(ms, 1));
      details.push({ trial, ms: ms === null ? null : round(ms, 1), status: final.status, primary_state: final.sides.primary.state, backup_state: final.sides.backup?.state ?? null });
      progress(`ingest_failover_detection: trial ${trial}/${TRIALS}: ${ms === null ? `no switch within ${GIVE_UP_MS} ms` : `${ms.toFixed(0)} ms`} (status ${final.status}, primary ${final.sides.primary.state}, backup ${final.sides.backup?.state})`);

      // Tear the trial down: end the ingest (drops the backup publisher through control), make sure
      // ffmpeg is gone, and replace the dead node with a fresh nginx on new ports.
      await call(server, 'POST', '/api/v1/ingest/stop', { ingest_id: ing.id }, 200);
      if ((await withDeadline(ffmpeg.exited, 10_000)) === undefined) {
        ffmpeg.kill('SIGKILL');
        await ffmpeg.exited;
      }
      await primary.nginx.dispose();
      await retireNode(server, primary.doc.id);
      nodes.splice(nodes.indexOf(primary), 1, await newNode(primary.machine));
    }

    const measured = samples.filter((x): x is number => x !== null);
    const worst = measured.length === samples.length ? Math.max(...measured) : null;
    emit({
      scenario: 'ingest_failover_detection',
      what: 'SIGKILL of the primary nginx-rtmp (process group) during a tee dual push to primary and backup; time until GET /api/v1/ingest/{id}/status says active_side=backup (polled every 50 ms)',
      trials: TRIALS,
      median_ms: measured.length ? round(median(measured), 1) : null,
      worst_ms: worst,
      samples,
      target_ms: TARGET_MS,
      met: worst !== null && worst <= TARGET_MS,
      details,
      pinning: 'none: the server, nginx and ffmpeg run unpinned (machine.pinning describes the load scenarios)',
      server_env: {
        DATABASE_URL: 'memory://',
        STREAMPLANE_INGEST_STATS_POLL_MS: 'default (1000)',
        STREAMPLANE_INGEST_STALL_MS: 'default (3000)',
        STREAMPLANE_INGEST_MONITOR_MS: 'default (500)',
        STREAMPLANE_INGEST_NODE_TIMEOUT_MS: 'default (1500)',
        notify_update_timeout_s: 2,
      },
    });
  } catch (err) {
    if (sp) process.stderr.write(`--- server output (tail) ---\n${sp.output().slice(-20_000)}\n`);
    throw err;
  } finally {
    await procs.killAll();
  }
}

/** An operator call that must answer `expect`; throws with the body otherwise. */
async function call<T = unknown>(sp: Streamplane, method: string, path: string, body: unknown, expect: number): Promise<T> {
  const res = await sp.api<T>(method, path, body);
  if (res.status !== expect) throw new Error(`${method} ${path} -> ${res.status} (expected ${expect}): ${res.text.slice(0, 500)}`);
  return res.json;
}
