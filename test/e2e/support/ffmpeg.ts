import { spawn, type ChildProcessByStdio } from 'node:child_process';
import type { Readable } from 'node:stream';
import { findExecutable } from './nginx-rtmp.ts';

/**
 * ffmpeg as an encoder: a synthetic test pattern and a 440 Hz tone, encoded live (-re) to H.264/AAC and
 * pushed as FLV over RTMP, the way OBS or a hardware encoder would.
 */

export function ffmpegAvailable(): boolean {
  return findExecutable('ffmpeg') !== undefined;
}

export interface PublisherExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
}

export interface Publisher {
  child: ChildProcessByStdio<null, null, Readable>;
  /** Resolves when ffmpeg exits (never rejects): rc 0 after `-t`, 1 when the server refuses or drops it. */
  exited: Promise<PublisherExit>;
  /** What ffmpeg printed so far (`-loglevel error`, so only errors). */
  stderr(): string;
  /** SIGKILL by default; SIGINT or SIGTERM let ffmpeg finish the FLV cleanly. */
  kill(signal?: NodeJS.Signals): void;
}

export interface PublisherOptions {
  /** Stop after this many seconds of media (`-t`), exiting 0; by default runs until killed or dropped. */
  durationSeconds?: number;
  /** Output options placed just before the output (e.g. `['-rw_timeout', '5000000']`). */
  extraArgs?: string[];
}

const INPUTS = ['-re', '-f', 'lavfi', '-i', 'testsrc=size=640x360:rate=30', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=44100'];
// -pix_fmt yuv420p: testsrc is RGB, for which libx264 would pick High 4:4:4, a profile players (and
// nginx-rtmp's SPS parser: it then reports height 352) do not handle; real encoders send 4:2:0.
const ENCODE = ['-pix_fmt', 'yuv420p', '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-g', '60', '-b:v', '800k', '-c:a', 'aac', '-b:a', '64k'];
// -nostdin: ffmpeg must not poll stdin for its interactive keys (q, +, -) in a test.
const GLOBAL = ['-hide_banner', '-nostdin', '-loglevel', 'error'];

/** Pushes the test stream to one RTMP URL (`rtmp://host:port/app/name`). */
export function startPublisher(url: string, opts: PublisherOptions = {}): Publisher {
  return run([...GLOBAL, ...INPUTS, ...ENCODE, ...outputOptions(opts), '-f', 'flv', url]);
}

/**
 * Pushes one encode to two RTMP URLs at once through ffmpeg's tee muxer. `onfail=ignore` on each output:
 * when one server dies, ffmpeg drops that output and keeps pushing to the other (it exits only when both
 * are gone). The tee muxer needs explicit stream maps, and global headers because it cannot tell the
 * encoders that its FLV outputs want SPS/PPS and the AAC config out of band.
 */
export function startDualPublisher(primaryUrl: string, backupUrl: string, opts: PublisherOptions = {}): Publisher {
  const slaves = [primaryUrl, backupUrl].map((u) => `[f=flv:onfail=ignore]${u}`).join('|');
  return run([
    ...GLOBAL,
    ...INPUTS,
    '-map', '0:v', '-map', '1:a',
    ...ENCODE,
    '-flags', '+global_header',
    ...outputOptions(opts),
    '-f', 'tee', slaves,
  ]);
}

function outputOptions(opts: PublisherOptions): string[] {
  return [...(opts.durationSeconds !== undefined ? ['-t', String(opts.durationSeconds)] : []), ...(opts.extraArgs ?? [])];
}

const STDERR_LIMIT = 64 * 1024;

function run(args: string[]): Publisher {
  const child = spawn(findExecutable('ffmpeg') ?? 'ffmpeg', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (d: string) => {
    err += d;
    if (err.length > STDERR_LIMIT) err = err.slice(-STDERR_LIMIT); // keep the end: that is where the reason is
  });
  const exited = new Promise<PublisherExit>((resolve) => {
    child.once('error', (e) => {
      err += `spawn failed: ${e.message}\n`;
      resolve({ code: null, signal: null, stderr: err });
    });
    // 'close' rather than 'exit': stderr is fully read by then.
    child.once('close', (code, signal) => resolve({ code, signal, stderr: err }));
  });
  return {
    child,
    exited,
    stderr: () => err,
    kill(signal: NodeJS.Signals = 'SIGKILL') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    },
  };
}
