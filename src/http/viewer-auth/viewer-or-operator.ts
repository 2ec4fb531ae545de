import type { FastifyReply, FastifyRequest, onRequestAsyncHookHandler } from 'fastify';
import { unauthorized } from '../../core/errors.js';
import { bearerToken, type OperatorKeyVerifier } from '../auth.js';
import type { ViewerClaims, ViewerTokenVerifier } from './viewer-token.verifier.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Claims of the viewer access token that authenticated this request (viewer routes). */
    viewer?: ViewerClaims;
  }
}

/** A compact JWS (three base64url parts) is a viewer token; anything else is tried as an operator key. */
const JWT = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

/**
 * `?access_token=` on GETs, for what a browser fetches without script: a `<track src>` cannot send an
 * Authorization header. Viewer tokens only (short-lived, one session); an operator key never goes in a
 * URL. Logs redact the parameter.
 */
function queryViewerToken(request: FastifyRequest): string | null {
  if (request.method !== 'GET') return null;
  const t = (request.query as { access_token?: unknown } | undefined)?.access_token;
  return typeof t === 'string' && t.length <= 4096 && JWT.test(t) ? t : null;
}

/**
 * onRequest hook of routes that players and operators' server-side collectors both call (telemetry,
 * captions): sets `request.viewer` or `request.operator`, or answers 401 with the reason. The route
 * still checks that a viewer's session is the one it acts on.
 */
export function requireViewerOrOperator(operatorKey: OperatorKeyVerifier, verifier: ViewerTokenVerifier): onRequestAsyncHookHandler {
  return async function viewerOrOperatorAuth(request: FastifyRequest, reply: FastifyReply) {
    const token = bearerToken(request) ?? queryViewerToken(request);
    if (!token) {
      reply.header('www-authenticate', 'Bearer realm="streamplane"');
      throw unauthorized('missing_credentials', 'This endpoint needs a viewer access token or an operator API key: Authorization: Bearer <token>.');
    }
    if (JWT.test(token)) {
      const v = await verifier.validate(token);
      if (!v.valid) {
        reply.header('www-authenticate', 'Bearer realm="streamplane", error="invalid_token"');
        throw unauthorized('invalid_token', `The viewer access token is not valid: ${v.reason}.`);
      }
      request.viewer = v.claims;
      return;
    }
    const principal = await operatorKey(token);
    if (!principal) {
      reply.header('www-authenticate', 'Bearer realm="streamplane", error="invalid_token"');
      throw unauthorized('invalid_api_key', 'The operator API key is unknown or revoked.');
    }
    request.operator = principal;
  };
}
