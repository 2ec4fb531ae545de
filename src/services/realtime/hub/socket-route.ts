import type { IncomingMessage } from 'node:http';
import type { WebSocket } from 'ws';

/** The subprotocol a client offers beside `bearer.<token>`, and the one the server selects. */
export const SUBPROTOCOL = 'streamplane.v1';

/** Picks `streamplane.v1` when offered (ws calls this during the upgrade). */
export function selectProtocol(offered: Set<string>): string | false {
  return offered.has(SUBPROTOCOL) ? SUBPROTOCOL : false;
}

/** What a socket route sees of the upgrade request: no Fastify request is kept per socket (memory). */
export interface UpgradeRequest {
  params: { session_id: string };
  query: URLSearchParams;
  headers: IncomingMessage['headers'];
  ip: string;
  url: string;
}

export interface SocketRoute<A> {
  /** `/ws/<name>/{session_id}` */
  name: string;
  /** Checks run before the upgrade; an AppError becomes the HTTP answer. */
  admit(req: UpgradeRequest): Promise<A>;
  connected(socket: WebSocket, admission: A, req: UpgradeRequest): void;
}


/** A route of any admission type: each route hands its own admission back to itself. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnySocketRoute = SocketRoute<any>;
