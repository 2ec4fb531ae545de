import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ffmpegAvailable, startDualPublisher, startPublisher, type Publisher } from './support/ffmpeg.ts';
import { NGINX_RTMP_MODULE, nginxAvailable, startNginxRtmp, type NginxRtmp, type StatStream } from './support/nginx-rtmp.ts';
import { ProcessGroup, waitFor } from './support/processes.ts';

/**
 * The e2e harness on its own, no Streamplane: real nginx-rtmp instances calling back a tiny HTTP server,
 * real ffmpeg encoders publishing to them. What it shows is what later suites build on: admission by
 * on_publish, the periodic on_update, the 3xx rename, the control API's drop, and a tee'd dual push
 * that survives losing one of its two servers.
 */

const missing = [
  !nginxAvailable() && `nginx with the RTMP module (${NGINX_RTMP_MODULE}; Debian: nginx libnginx-mod-rtmp)`,
  !ffmpegAvailable() && 'ffmpeg',
].filter(Boolean);
if (missing.length > 0) console.warn(`[skipped] nginx-rtmp harness e2e: not installed: ${missing.join(', ')}`);
// CI installs them (.ci/run) and sets STREAMPLANE_E2E_REQUIRE_MEDIA=1: there a missing tool is a failure, not a skip.
if (missing.length > 0 && process.env.STREAMPLANE_E2E_REQUIRE_MEDIA === '1') throw new Error(`end-to-end media tools missing: ${missing.join(', ')}`);

interface Callback {
  /** Which nginx instance called: the first path segment of its notify URLs. */
  tag: string;
  call: string;
  name: string;
  status: number;
  fields: URLSearchParams;
}

/**
 * What our ingest service will be, reduced to a rule table: on_publish 2xx for `good`, 302 to `renamed`
 * for `redir`, 403 for anything else; on_update 2xx unless the name is in `kick`; *_done recorded only.
 */
async function startCallbackServer() {
  const calls: Callback[] = [];
  const kick = new Set<string>();
  const server: Server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (d: string) => (body += d));
    req.on('end', () => {
      const fields = new URLSearchParams(body);
      const call = fields.get('call') ?? '';
      const name = fields.get('name') ?? '';
      let status = 200;
      const headers: Record<string, string> = {};
      if (call === 'publish') {
        if (name === 'redir') {
          status = 302;
          headers.location = 'renamed';
        } else if (name !== 'good') status = 403;
      } else if (call === 'update_publish' && kick.has(name)) status = 403;
      calls.push({ tag: (req.url ?? '').split('/')[1] ?? '', call, name, status, fields });
      res.writeHead(status, headers).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    calls,
    kick,
    /** The application block an nginx tagged `tag` runs: every callback comes back to this server. */
    applicationBlock(tag: string): string {
      const cb = (event: string) => `http://127.0.0.1:${port}/${tag}/${event}`;
      return `application live {
        live on;
        notify_method post;
        on_publish ${cb('publish')};
        on_update ${cb('update')};
        notify_update_timeout 1s;
        on_publish_done ${cb('publish_done')};
        on_done ${cb('done')};
      }`;
    },
    of: (tag: string) => calls.filter((c) => c.tag === tag),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe.skipIf(missing.length > 0)('nginx-rtmp + ffmpeg harness', () => {
  const procs = new ProcessGroup();
  let callbacks: Awaited<ReturnType<typeof startCallbackServer>>;

  beforeAll(async () => {
    callbacks = await startCallbackServer();
  });
  afterAll(async () => {
    await procs.killAll();
    await callbacks?.close();
  });

  async function nginx(tag: string): Promise<NginxRtmp> {
    return procs.add(await startNginxRtmp({ applicationBlock: callbacks.applicationBlock(tag) }));
  }
  function publish(url: string): Publisher {
    // A generous -t: even a publisher nobody kills ends by itself.
    return procs.add(startPublisher(url, { durationSeconds: 120 }));
  }
  async function streamIn(n: NginxRtmp, name: string, detail: () => string = () => ''): Promise<StatStream> {
    return waitFor(`stream ${name} publishing in ${n.statUrl} ${detail()}`, async () =>
      (await n.stat()).find((s) => s.app === 'live' && s.name === name && s.publishing),
    );
  }

  it('admits a good key: /stat lists it, and on_publish is followed by periodic update_publish', async () => {
    const n = await nginx('admit');
    const ffmpeg = publish(`${n.rtmpUrl('live')}/good`);
    const stream = await streamIn(n, 'good', ffmpeg.stderr);
    expect(stream.clients.some((c) => c.publishing)).toBe(true);

    await waitFor('two update_publish callbacks', () =>
      callbacks.of('admit').filter((c) => c.call === 'update_publish').length >= 2,
    );
    const seen = callbacks.of('admit');
    expect(seen[0]).toMatchObject({ call: 'publish', name: 'good', status: 200 });
    expect(seen[0]!.fields.get('app')).toBe('live');
    expect(seen[0]!.fields.get('type')).toBe('live');
    const update = seen.find((c) => c.call === 'update_publish')!;
    expect(update.name).toBe('good');
    expect(Number(update.fields.get('time'))).toBeGreaterThanOrEqual(0);
    expect(ffmpeg.child.exitCode).toBeNull();

    ffmpeg.kill('SIGKILL');
    await ffmpeg.exited;
    await waitFor('good to leave /stat', async () => !(await n.stat()).some((s) => s.name === 'good'));
  });

  it('refuses a bad key: on_publish 403 makes ffmpeg exit non-zero', async () => {
    const n = await nginx('refuse');
    const ffmpeg = publish(`${n.rtmpUrl('live')}/bad`);
    const exit = await ffmpeg.exited;
    expect(exit.code, exit.stderr).not.toBe(0);
    expect(exit.code).not.toBeNull();
    expect(callbacks.of('refuse').find((c) => c.call === 'publish')).toMatchObject({ name: 'bad', status: 403 });
    expect((await n.stat()).some((s) => s.name === 'bad')).toBe(false);
  });

  it('renames on a 302: Location "renamed" is the name /stat shows', async () => {
    const n = await nginx('rename');
    const ffmpeg = publish(`${n.rtmpUrl('live')}/redir`);
    await streamIn(n, 'renamed', ffmpeg.stderr);
    expect((await n.stat()).some((s) => s.name === 'redir')).toBe(false);
    expect(callbacks.of('rename').find((c) => c.call === 'publish')).toMatchObject({ name: 'redir', status: 302 });
    ffmpeg.kill();
    await ffmpeg.exited;
  });

  it('drops a publisher through the control API: body "1", ffmpeg exits', async () => {
    const n = await nginx('drop');
    const ffmpeg = publish(`${n.rtmpUrl('live')}/good`);
    await streamIn(n, 'good', ffmpeg.stderr);
    const res = await fetch(`${n.controlUrl}/drop/publisher?app=live&name=good`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('1');
    const exit = await ffmpeg.exited;
    expect(exit.code, exit.stderr).not.toBe(0);
    await waitFor('good to leave /stat', async () => !(await n.stat()).some((s) => s.name === 'good'));
    await waitFor('publish_done after the drop', () =>
      callbacks.of('drop').some((c) => c.call === 'publish_done' && c.name === 'good'),
    );
  });

  it('kicks a live publisher when on_update answers 403', async () => {
    const n = await nginx('kick');
    const ffmpeg = publish(`${n.rtmpUrl('live')}/good`);
    await streamIn(n, 'good', ffmpeg.stderr);
    callbacks.kick.add('good');
    try {
      const exit = await ffmpeg.exited;
      expect(exit.code, exit.stderr).not.toBe(0);
      expect(callbacks.of('kick').some((c) => c.call === 'update_publish' && c.status === 403)).toBe(true);
    } finally {
      callbacks.kick.delete('good');
    }
  });

  it('dual push through tee: SIGKILL one nginx, the other keeps receiving from the same ffmpeg', async () => {
    const primary = await nginx('primary');
    const backup = await nginx('backup');
    const ffmpeg = procs.add(
      startDualPublisher(`${primary.rtmpUrl('live')}/good`, `${backup.rtmpUrl('live')}/good`, { durationSeconds: 120 }),
    );
    await streamIn(primary, 'good', ffmpeg.stderr);
    const before = await streamIn(backup, 'good', ffmpeg.stderr);
    // Both outputs carry real H.264/AAC headers (the tee needs +global_header for that).
    const withMeta = await waitFor('backup stream metadata', async () => (await backup.stat()).find((s) => s.name === 'good' && s.video));
    expect(withMeta.video).toMatchObject({ codec: 'H264', width: 640, height: 360 });
    expect(withMeta.audio?.codec).toBe('AAC');

    const killedAt = performance.now();
    primary.kill('SIGKILL');
    const primaryExit = await primary.exited;
    expect(primaryExit.signal).toBe('SIGKILL');
    await waitFor('the tee to notice the lost output', () => /Slave muxer #0 failed/.test(ffmpeg.stderr()), { timeoutMs: 30_000 });
    const noticedMs = performance.now() - killedAt;

    // bytes_in must grow on several successive polls after the loss, with ffmpeg still running.
    let last = before.bytesIn;
    const growth: number[] = [];
    await waitFor(`backup bytes_in to grow on 5 polls (seen ${growth.join(', ')})`, async () => {
      const s = (await backup.stat()).find((x) => x.name === 'good' && x.publishing);
      if (s && s.bytesIn > last) {
        growth.push(s.bytesIn - last);
        last = s.bytesIn;
      }
      return growth.length >= 5;
    }, { timeoutMs: 30_000, intervalMs: 200 });
    expect(ffmpeg.child.exitCode, ffmpeg.stderr()).toBeNull();
    expect(ffmpeg.stderr()).toMatch(/continuing with 1\/2 slaves/);
    console.info(
      `[tee] primary SIGKILLed; ffmpeg noticed after ${noticedMs.toFixed(0)} ms; backup bytes_in grew ${growth.join(', ')} ` +
        `over ${((performance.now() - killedAt) / 1000).toFixed(1)} s; ffmpeg stderr: ${JSON.stringify(ffmpeg.stderr())}`,
    );

    ffmpeg.kill();
    await ffmpeg.exited;
  });
});
