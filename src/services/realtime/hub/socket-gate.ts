import { AppError, forbidden, unauthorized } from '../../../core/errors.js';
import { hasScope, type Scope, type ViewerClaims, type ViewerTokenVerifier } from '../../../http/viewer-auth/viewer-token.verifier.js';
import type { Hub } from './hub.js';
import type { UpgradeRequest } from './socket-route.js';

const BEARER_PROTOCOL = /^bearer\.(\S{1,4096})$/;

function tokenOf(req: UpgradeRequest): string | null {
  const q = req.query.get('access_token');
  if (q) return q;
  const offered = req.headers['sec-websocket-protocol'];
  if (typeof offered !== 'string') return null;
  for (const p of offered.split(',')) {
    const m = BEARER_PROTOCOL.exec(p.trim());
    if (m) return m[1]!;
  }
  return null;
}

export interface SocketGateOptions {
  hub: Hub;
  verifier: ViewerTokenVerifier;
  allowedOrigins: string[];
  /** Any one of these scopes lets the token read this socket. */
  readScopes: Scope[];
}

/**
 * The handshake checks every socket route shares, run before the upgrade so that a refusal is a plain
 * HTTP status with a problem document (a browser sees the status; a close code would need a socket).
 * Returns the viewer's claims.
 */
export async function admitSocket(req: UpgradeRequest, o: SocketGateOptions): Promise<ViewerClaims> {
  const origin = req.headers.origin;
  if (o.allowedOrigins.length > 0 && typeof origin === 'string' && !o.allowedOrigins.includes(origin)) {
    throw forbidden('origin_not_allowed', `Origin ${origin} may not open sockets here (STREAMPLANE_WS_ALLOWED_ORIGINS).`);
  }
  const sessionId = req.params.session_id;
  if (!o.hub.admits(req.ip)) {
    throw new AppError(429, 'too_many_connections', 'Too many open sockets from this address (STREAMPLANE_WS_MAX_CONNECTIONS_PER_IP).');
  }
  const token = tokenOf(req);
  if (!token) throw unauthorized('token_missing', 'Pass the viewer access token as ?access_token= or as the subprotocol bearer.<token> (beside streamplane.v1).');
  const v = await o.verifier.validate(token);
  // An ended session is not a token problem a refresh could fix: say so, as the room would.
  if (!v.valid && v.reason === 'session_ended') throw new AppError(409, 'session_ended', `Session ${sessionId} has ended; its history stays readable over HTTP.`);
  if (!v.valid) throw unauthorized('token_invalid', `The viewer access token is not valid: ${v.reason}.`);
  if (v.claims.sid !== sessionId) throw forbidden('forbidden', 'The token is for another session.');
  if (!o.readScopes.some((s) => hasScope(v.claims, s))) throw forbidden('forbidden', `The token needs one of the scopes ${o.readScopes.join(', ')}.`);
  return v.claims;
}
