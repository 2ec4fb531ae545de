import type { FastifyReply, FastifyRequest, onRequestAsyncHookHandler } from 'fastify';
import { unauthorized } from '../core/errors.js';

export interface OperatorPrincipal {
  /** Stored key id, or 'admin' for STREAMPLANE_ADMIN_KEY. */
  keyId: string;
}

/** Resolves an operator API key to its principal, or null when it is unknown or revoked. */
export type OperatorKeyVerifier = (key: string) => Promise<OperatorPrincipal | null>;

declare module 'fastify' {
  interface FastifyRequest {
    operator?: OperatorPrincipal;
  }
}

const BEARER = /^Bearer\s+(\S{1,4096})\s*$/i;

/**
 * The bearer credential of an Authorization header value, or null. Does not say whether it is valid.
 * Takes the header, not a Fastify request, so that answers given before Fastify (fast-path.ts) read it
 * the same way.
 */
export function bearerOf(authorization: string | undefined): string | null {
  if (typeof authorization !== 'string') return null;
  const m = BEARER.exec(authorization);
  return m ? m[1]! : null;
}

/** The bearer credential of a request, or null. Does not say whether it is valid. */
export function bearerToken(request: FastifyRequest): string | null {
  return bearerOf(request.headers.authorization);
}

/**
 * onRequest hook for operator routes: 401 with a problem document unless a valid operator key is
 * presented. It runs before the body is parsed, so an unauthenticated caller learns nothing about
 * the route's schema.
 */
export function requireOperator(verify: OperatorKeyVerifier): onRequestAsyncHookHandler {
  return async function operatorAuth(request: FastifyRequest, reply: FastifyReply) {
    const key = bearerToken(request);
    if (!key) {
      reply.header('www-authenticate', 'Bearer realm="streamplane"');
      throw unauthorized('missing_credentials', 'This endpoint needs an operator API key: Authorization: Bearer <key>.');
    }
    const principal = await verify(key);
    if (!principal) {
      reply.header('www-authenticate', 'Bearer realm="streamplane", error="invalid_token"');
      throw unauthorized('invalid_api_key', 'The operator API key is unknown or revoked.');
    }
    request.operator = principal;
  };
}
