import { createServer, connect, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy in front of a real PostgreSQL or Redis that a test can cut (connections reset, new ones
 * refused) and restore: the outage is real, the servers are not touched.
 */
export async function startProxy(target: URL, defaultPort = 6379) {
  const sockets = new Set<Socket>();
  let up = true;
  let attempts = 0;
  const server: Server = createServer((client) => {
    attempts += 1;
    if (!up) {
      client.resetAndDestroy();
      return;
    }
    const upstream = connect(Number(target.port || defaultPort), target.hostname);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => undefined);
      s.on('close', () => {
        sockets.delete(s);
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  const url = new URL(target);
  url.hostname = '127.0.0.1';
  url.port = String(port);
  return {
    url: url.toString(),
    get attempts() {
      return attempts;
    },
    cut() {
      up = false;
      for (const s of sockets) s.resetAndDestroy();
    },
    restore() {
      up = true;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

