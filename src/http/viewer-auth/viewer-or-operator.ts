import type { FastifyReply, FastifyRequest, onRequestAsyncHookHandler } from 'fastify';
import type { IncomingMessage } from 'node:http';
import { unauthorized } from '../../core/errors.js';
import { bearerOf, bearerToken, type OperatorKeyVerifier, type OperatorPrincipal } from '../auth.js';
import type { Validation, ViewerClaims, ViewerTokenVerifier } from './viewer-token.verifier.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Claims of the viewer access token that authenticated this request (viewer routes). */
    viewer?: ViewerClaims;
  }
}

/** A compact JWS (three base64url parts) is a viewer token; anything else is tried as an operator key. */
const JWT = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

/** Who is calling, or why the call is refused (the 401 the hook answers). */
export type Caller =
  | { kind: 'viewer'; claims: ViewerClaims }
  | { kind: 'operator'; principal: OperatorPrincipal }
  | { kind: 'refused'; code: 'missing_credentials' | 'invalid_token' | 'invalid_api_key'; detail: string };

const MISSING: Caller = {
  kind: 'refused',
  code: 'missing_credentials',
  detail: 'This endpoint needs a viewer access token or an operator API key: Authorization: Bearer <token>.',
};
const BAD_KEY: Caller = { kind: 'refused', code: 'invalid_api_key', detail: 'The operator API key is unknown or revoked.' };

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
 * Authentication of routes that players and operators' server-side collectors both call (telemetry,
 * captions): a viewer access token or an operator API key. One resolver, free of Fastify, serves both
 * the routes' onRequest hook and answers given before Fastify (http/fast-path.ts), so the two cannot
 * disagree on who a caller is. The route still checks that a viewer's session is the one it acts on.
 */
export class ViewerOrOperator {
  /**
   * Callers resolved by a fast answer that then handed the request to Fastify (a 401, a missing scope,
   * a full buffer): the hook takes them from here instead of verifying the credential a second time,
   * which would also count the token validation twice.
   */
  private readonly resolved = new WeakMap<IncomingMessage, Caller>();

  constructor(
    private readonly operatorKey: OperatorKeyVerifier,
    private readonly verifier: ViewerTokenVerifier,
  ) {}

  /** The caller an Authorization header names. Synchronous for viewer tokens verified before (cached). */
  callerOf(authorization: string | undefined): Caller | Promise<Caller> {
    return this.callerOfToken(bearerOf(authorization));
  }

  /** For a request a fast answer resolved and hands to Fastify: its hook reuses `caller`. */
  remember(req: IncomingMessage, caller: Caller) {
    this.resolved.set(req, caller);
  }

  /** onRequest hook: sets `request.viewer` or `request.operator`, or answers 401 with the reason. */
  readonly hook: onRequestAsyncHookHandler = async (request: FastifyRequest, reply: FastifyReply) => {
    let caller = this.resolved.get(request.raw);
    if (caller) this.resolved.delete(request.raw);
    else caller = await this.callerOfToken(bearerToken(request) ?? queryViewerToken(request));
    switch (caller.kind) {
      case 'viewer':
        request.viewer = caller.claims;
        return;
      case 'operator':
        request.operator = caller.principal;
        return;
      default:
        reply.header('www-authenticate', caller.code === 'missing_credentials' ? 'Bearer realm="streamplane"' : 'Bearer realm="streamplane", error="invalid_token"');
        throw unauthorized(caller.code, caller.detail);
    }
  };

  private callerOfToken(token: string | null): Caller | Promise<Caller> {
    if (!token) return MISSING;
    if (JWT.test(token)) {
      const v = this.verifier.validate(token);
      return v instanceof Promise ? v.then(viewerOf) : viewerOf(v);
    }
    return this.operatorKey(token).then((principal): Caller => (principal ? { kind: 'operator', principal } : BAD_KEY));
  }
}

function viewerOf(v: Validation): Caller {
  return v.valid ? { kind: 'viewer', claims: v.claims } : { kind: 'refused', code: 'invalid_token', detail: `The viewer access token is not valid: ${v.reason}.` };
}
