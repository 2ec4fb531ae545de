import { spawn, spawnSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { XMLParser } from 'fast-xml-parser';
import { freePort } from './ports.ts';
import { waitFor, withDeadline } from './processes.ts';

/**
 * A real nginx + nginx-rtmp-module (Debian's `nginx` and `libnginx-mod-rtmp`) in its own temp prefix:
 * its config, pid, logs and temp paths all live there, so it never touches /etc/nginx, /var/lib/nginx or
 * a system nginx that may be running on port 80.
 */

export const NGINX_RTMP_MODULE = '/usr/lib/nginx/modules/ngx_rtmp_module.so';

/** Where `nginx` lives: Debian puts it in /usr/sbin, which a non-root PATH may lack. */
export function nginxBinary(): string | undefined {
  return findExecutable('nginx', ['/usr/sbin', '/usr/local/sbin']);
}

/** True when both the nginx binary and the RTMP module are installed (suites skip otherwise). */
export function nginxAvailable(): boolean {
  return nginxBinary() !== undefined && existsSync(NGINX_RTMP_MODULE);
}

export interface NginxRtmpOptions {
  /** The text of an `application <name> { … }` block, placed inside `rtmp { server { … } }`. */
  applicationBlock: string;
  /** Fixed ports; by default free ones are picked (and re-picked if another process grabs one first). */
  rtmpPort?: number;
  httpPort?: number;
  /** Prefix folder to use (created if missing, left in place); by default a temp folder removed by stop(). */
  workDir?: string;
  /** How long to wait for /stat to answer 200 after spawning (default 30 s). */
  readyTimeoutMs?: number;
}

export interface NginxExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface NginxRtmp {
  rtmpPort: number;
  httpPort: number;
  /** `rtmp://127.0.0.1:<rtmpPort>/<app>`: append `/<stream name>` to publish or play. */
  rtmpUrl(app: string): string;
  statUrl: string;
  controlUrl: string;
  /** The master process id (also the process group id: workers share it). */
  pid: number;
  /** The prefix folder: nginx.conf, nginx.pid, error.log, access.log, temp paths. */
  dir: string;
  /** error.log (level info); still readable after stop() removed the folder (its last content). */
  errorLog(): Promise<string>;
  /** What the master printed on stdout/stderr (startup errors land here). */
  output(): string;
  /** /stat parsed: one entry per live stream. */
  stat(): Promise<StatStream[]>;
  /**
   * Sends `signal` to the master. SIGKILL goes to the whole process group instead: a worker survives its
   * master's SIGKILL and keeps serving, which is not the crash a test means to simulate.
   */
  kill(signal?: NodeJS.Signals): void;
  /** Resolves when the master exits (never rejects). */
  exited: Promise<NginxExit>;
  /** SIGQUIT (graceful: waits for live sessions), then SIGKILL to the group after `timeoutMs` (default 5 s). */
  stop(timeoutMs?: number): Promise<void>;
  /** For ProcessGroup: SIGTERM (fast shutdown), SIGKILL to the group if needed, remove the folder if ours. */
  dispose(): Promise<void>;
  /** For ProcessGroup at process exit: SIGKILL the group and remove the folder if ours, synchronously. */
  disposeSync(): void;
}

export async function startNginxRtmp(opts: NginxRtmpOptions): Promise<NginxRtmp> {
  const bin = nginxBinary();
  if (!bin || !existsSync(NGINX_RTMP_MODULE)) {
    throw new Error(`nginx-rtmp is not installed (need the nginx binary and ${NGINX_RTMP_MODULE})`);
  }
  const ownDir = opts.workDir === undefined;
  const dir = opts.workDir ?? (await mkdtemp(join(tmpdir(), 'streamplane-nginx-')));
  try {
    await mkdir(dir, { recursive: true });
    const pinned = opts.rtmpPort !== undefined || opts.httpPort !== undefined;
    for (let attempt = 1; ; attempt++) {
      const rtmpPort = opts.rtmpPort ?? (await freePort());
      let httpPort = opts.httpPort ?? (await freePort());
      while (httpPort === rtmpPort) httpPort = await freePort();
      try {
        return await launch(bin, dir, ownDir, rtmpPort, httpPort, opts);
      } catch (err) {
        // Another process took a port between freePort() and nginx's bind: pick again.
        const inUse = err instanceof Error && /Address already in use/.test(err.message);
        if (!inUse || pinned || attempt >= 5) throw err;
      }
    }
  } catch (err) {
    if (ownDir) await rm(dir, { recursive: true, force: true });
    throw err;
  }
}

async function launch(
  bin: string,
  dir: string,
  ownDir: boolean,
  rtmpPort: number,
  httpPort: number,
  opts: NginxRtmpOptions,
): Promise<NginxRtmp> {
  const confPath = join(dir, 'nginx.conf');
  const errorLogPath = join(dir, 'error.log');
  await writeFile(confPath, renderConf({ dir, rtmpPort, httpPort, applicationBlock: opts.applicationBlock }));

  const test = spawnSync(bin, ['-t', '-p', `${dir}/`, '-e', errorLogPath, '-c', confPath], { encoding: 'utf8' });
  if (test.error || test.status !== 0) {
    throw new Error(`nginx -t rejected ${confPath}:\n${test.stdout}${test.stderr}${test.error?.message ?? ''}\n--- nginx.conf ---\n${await readFile(confPath, 'utf8')}`);
  }

  // detached: the master leads its own process group, so a SIGKILL can take its workers down with it.
  const child = spawn(bin, ['-p', `${dir}/`, '-e', errorLogPath, '-c', confPath], {
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const exited = new Promise<NginxExit>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
    child.once('error', (err) => {
      out += `spawn failed: ${err.message}\n`;
      resolve({ code: null, signal: null });
    });
  });
  const pid = child.pid ?? -1;
  let gone = false;
  void exited.then(() => (gone = true));

  const killGroup = (): void => {
    if (pid <= 0) return; // never spawned: process.kill(-(-1)) would be pid 1
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      /* the whole group is gone already */
    }
  };
  // After a group SIGKILL the workers are orphans that init reaps a moment later; wait for that so a
  // suite that ends here leaves no nginx behind (not even <defunct> ones).
  const groupGone = (): Promise<unknown> =>
    waitFor(
      `nginx process group ${pid} to be gone`,
      () => {
        if (pid <= 0) return true;
        try {
          process.kill(-pid, 0);
          return false;
        } catch {
          return true;
        }
      },
      { timeoutMs: 5_000 },
    ).catch(() => undefined);
  let lastLog = '';
  const errorLog = async (): Promise<string> => {
    try {
      lastLog = await readFile(errorLogPath, 'utf8');
    } catch {
      /* removed by stop(): keep the last content read */
    }
    return lastLog;
  };
  let removed = false;
  const cleanup = async (): Promise<void> => {
    await errorLog();
    if (ownDir && !removed) {
      removed = true;
      await rm(dir, { recursive: true, force: true });
    }
  };
  const statUrl = `http://127.0.0.1:${httpPort}/stat`;

  const ready = await waitFor(
    `nginx-rtmp /stat on port ${httpPort}`,
    async () => {
      if (gone) return 'exited' as const;
      const res = await fetch(statUrl, { signal: AbortSignal.timeout(2_000) });
      const xml = await res.text();
      // A 200 alone could come from another server still holding the port (nginx keeps retrying bind()
      // for ~2.5 s): /stat names the answering worker, which must be a child of our master.
      return res.status === 200 && (await answeredBy(pid, xml)) ? ('ready' as const) : undefined;
    },
    { timeoutMs: opts.readyTimeoutMs ?? 30_000 },
  ).catch((err: Error) => err);
  if (ready !== 'ready') {
    killGroup();
    const exit = await withDeadline(exited, 5_000);
    const why = ready instanceof Error ? ready.message : `nginx exited early (${JSON.stringify(exit)})`;
    throw new Error(`${why}\n--- output ---\n${out}\n--- error.log ---\n${await errorLog()}`);
  }

  return {
    rtmpPort,
    httpPort,
    rtmpUrl: (app) => `rtmp://127.0.0.1:${rtmpPort}/${app}`,
    statUrl,
    controlUrl: `http://127.0.0.1:${httpPort}/control`,
    pid,
    dir,
    errorLog,
    output: () => out,
    stat: () => readStat(statUrl),
    kill(signal: NodeJS.Signals = 'SIGKILL') {
      if (signal === 'SIGKILL') return killGroup();
      if (!gone) child.kill(signal);
    },
    exited,
    async stop(timeoutMs = 5_000) {
      if (!gone) child.kill('SIGQUIT');
      if ((await withDeadline(exited, timeoutMs)) === undefined) killGroup();
      await exited;
      killGroup(); // workers orphaned by an earlier master-only signal
      await groupGone();
      await cleanup();
    },
    disposeSync() {
      killGroup();
      if (ownDir && !removed) {
        removed = true;
        rmSync(dir, { recursive: true, force: true });
      }
    },
    async dispose() {
      // Fast shutdown first (SIGTERM: sessions dropped, the master reaps its workers), the group's SIGKILL
      // when that does not finish in time or the master is already gone.
      if (!gone) child.kill('SIGTERM');
      await withDeadline(exited, 3_000);
      killGroup();
      await withDeadline(exited, 5_000);
      await groupGone();
      await cleanup();
    },
  };
}

/** Whether the worker that wrote this /stat (its `<pid>`) is a child of `masterPid`. */
async function answeredBy(masterPid: number, xml: string): Promise<boolean> {
  const worker = /<pid>(\d+)<\/pid>/.exec(xml)?.[1];
  if (!worker) return false;
  if (Number(worker) === masterPid) return true; // master_process off
  try {
    // /proc/<pid>/stat: "pid (comm) state ppid …"; comm may contain spaces, so split after the last ')'.
    const stat = await readFile(`/proc/${worker}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === masterPid;
  } catch {
    return existsSync('/proc/self/stat') ? false : true; // no procfs: trust the 200
  }
}

function renderConf(c: { dir: string; rtmpPort: number; httpPort: number; applicationBlock: string }): string {
  const d = c.dir;
  // As root, workers would switch to the compiled-in default user (nobody/nogroup), which may not exist
  // everywhere and cannot read a 0700 temp prefix: stay root (loopback-only test servers).
  const user = process.getuid?.() === 0 ? 'user root;\n' : '';
  return `# Written by test/e2e/support/nginx-rtmp.ts: everything this nginx writes stays under ${d}.
load_module ${NGINX_RTMP_MODULE};
daemon off;
master_process on;
# One worker: /stat only reports the worker that answers it.
worker_processes 1;
${user}pid ${d}/nginx.pid;
lock_file ${d}/nginx.lock;
error_log ${d}/error.log info;

events {}

rtmp {
    server {
        listen 127.0.0.1:${c.rtmpPort};
        chunk_size 4096;

${indent(c.applicationBlock.trim(), 8)}
    }
}

http {
    access_log ${d}/access.log;
    client_body_temp_path ${d}/client_body_temp;
    proxy_temp_path ${d}/proxy_temp;
    fastcgi_temp_path ${d}/fastcgi_temp;
    uwsgi_temp_path ${d}/uwsgi_temp;
    scgi_temp_path ${d}/scgi_temp;

    server {
        listen 127.0.0.1:${c.httpPort};
        location /stat { rtmp_stat all; }
        location /control { rtmp_control all; }
    }
}
`;
}

function indent(text: string, n: number): string {
  const pad = ' '.repeat(n);
  return text
    .split('\n')
    .map((l) => (l.trim() ? pad + l.trimStart() : l))
    .join('\n');
}

export interface StatClient {
  id: number;
  address: string;
  flashver: string;
  publishing: boolean;
}

export interface StatStream {
  app: string;
  name: string;
  /** Cumulative bytes received for this stream (grows continuously while a publisher pushes). */
  bytesIn: number;
  bytesOut: number;
  /** 10-second window averages in bit/s: 0 for the first ~10 s of a stream. */
  bwIn: number;
  /** Milliseconds since the stream started. */
  timeMs: number;
  nclients: number;
  publishing: boolean;
  clients: StatClient[];
  /** From the stream's metadata and sequence headers; absent until the publisher has sent them. */
  video?: { codec: string; profile: string; width: number; height: number; frameRate: number };
  audio?: { codec: string; sampleRate: number; channels: number };
}

const ARRAYS = new Set([
  'rtmp.server',
  'rtmp.server.application',
  'rtmp.server.application.live.stream',
  'rtmp.server.application.live.stream.client',
]);
// Values stay strings (a stream named "007" must not become 7); numbers are converted field by field.
const parser = new XMLParser({ parseTagValue: false, isArray: (_name, jpath) => ARRAYS.has(String(jpath)) });

type Node = Record<string, unknown>;

/** Parses nginx-rtmp's `/stat` XML (`rtmp_stat all;`) into the live streams it lists. */
export function parseStat(xml: string): StatStream[] {
  const doc = parser.parse(xml) as { rtmp?: { server?: Node[] } };
  const streams: StatStream[] = [];
  for (const server of doc.rtmp?.server ?? []) {
    for (const app of (server.application as Node[] | undefined) ?? []) {
      const live = app.live as Node | undefined;
      for (const s of (live?.stream as Node[] | undefined) ?? []) {
        const meta = s.meta as Node | undefined;
        const video = meta?.video as Node | undefined;
        const audio = meta?.audio as Node | undefined;
        streams.push({
          app: String(app.name),
          name: String(s.name ?? ''),
          bytesIn: Number(s.bytes_in ?? 0),
          bytesOut: Number(s.bytes_out ?? 0),
          bwIn: Number(s.bw_in ?? 0),
          timeMs: Number(s.time ?? 0),
          nclients: Number(s.nclients ?? 0),
          publishing: 'publishing' in s,
          clients: ((s.client as Node[] | undefined) ?? []).map((c) => ({
            id: Number(c.id),
            address: String(c.address ?? ''),
            flashver: String(c.flashver ?? ''),
            publishing: 'publishing' in c,
          })),
          ...(video && {
            video: {
              codec: String(video.codec ?? ''),
              profile: String(video.profile ?? ''),
              width: Number(video.width ?? 0),
              height: Number(video.height ?? 0),
              frameRate: Number(video.frame_rate ?? 0),
            },
          }),
          ...(audio && {
            audio: {
              codec: String(audio.codec ?? ''),
              sampleRate: Number(audio.sample_rate ?? 0),
              channels: Number(audio.channels ?? 0),
            },
          }),
        });
      }
    }
  }
  return streams;
}

export async function readStat(statUrl: string): Promise<StatStream[]> {
  const res = await fetch(statUrl, { signal: AbortSignal.timeout(5_000) });
  const body = await res.text();
  if (res.status !== 200) throw new Error(`GET ${statUrl}: ${res.status} ${body.slice(0, 200)}`);
  return parseStat(body);
}

/** First executable named `name` on PATH, then in `extraDirs`. */
export function findExecutable(name: string, extraDirs: string[] = []): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(delimiter).filter(Boolean), ...extraDirs];
  return dirs.map((d) => join(d, name)).find((p) => existsSync(p));
}
