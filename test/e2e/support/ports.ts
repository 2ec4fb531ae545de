import { createServer } from 'node:net';

/**
 * A TCP port that was free a moment ago on `host`. The kernel may hand it to someone else before the
 * caller binds it, so callers that spawn a server on it should retry on "address in use".
 */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer()
      .listen(0, host, () => {
        const port = (srv.address() as { port: number }).port;
        srv.close(() => resolve(port));
      })
      .on('error', reject);
  });
}
