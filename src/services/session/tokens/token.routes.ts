import { Type, type Static } from '@sinclair/typebox';
import type { FastifyPluginAsync, onRequestAsyncHookHandler } from 'fastify';
import fastJson from 'fast-json-stringify';
import type { FastPath } from '../../../http/fast-path.js';
import type { Validation, ViewerClaims } from '../../../http/viewer-auth/viewer-token.verifier.js';
import { bodylessAsEmptyObject } from '../../../http/validation.js';
import type { SigningKeyRing } from '../../../http/viewer-auth/signing-key.ring.js';
import { Jwks, MintBody, RefreshBody, RevokeBody, TokenPair, ValidateBody, ValidateResponse } from './token.schemas.js';
import type { TokenService } from './token.service.js';

const P = { $ref: 'Problem#' };
const operatorErrors = { 400: P, 401: P, 404: P, 409: P, 413: P, 415: P };

interface Options {
  tokens: TokenService;
  ring: SigningKeyRing;
  operator: onRequestAsyncHookHandler;
  validateRatePerMinute: number;
  fastPath?: FastPath;
  bodyLimitBytes: number;
}

/** `{ token }` and nothing else, within ValidateBody's bounds (UTF-16 length ≥ code points, so never looser). */
const plainValidateBody = (b: unknown): b is Static<typeof ValidateBody> => {
  if (typeof b !== 'object' || b === null || Array.isArray(b)) return false;
  // Checked on every fast validation: no key list is allocated to find that `token` is the only key.
  for (const k in b) if (k !== 'token') return false;
  const token = (b as { token?: unknown }).token;
  return typeof token === 'string' && token.length >= 1 && token.length <= 4096;
};

const TOKEN_BODY_START = Buffer.from('{"token":"');
const TOKEN_BODY_END = '"}';
/** The characters of a compact JWS (base64url parts and dots): no escapes, no controls, nothing beyond ASCII. */
const JWS_CHARS = /^[A-Za-z0-9_.-]+$/;

/**
 * `{"token":"<compact JWS>"}` byte for byte, which is what players and SDKs send, read without
 * JSON.parse: the string is taken once from the bytes (latin1 is exact for these ASCII characters)
 * and no object is parsed to be thrown away. Anything else (spaces, escapes, other keys) is undefined,
 * and JSON.parse reads it. Saves about a microsecond of the ~30 a validation costs.
 */
export function plainTokenBody(body: Buffer): { token: string } | undefined {
  const start = TOKEN_BODY_START.length;
  const end = body.length - TOKEN_BODY_END.length;
  if (end <= start || end - start > 4096) return undefined;
  if (body.compare(TOKEN_BODY_START, 0, start, 0, start) !== 0 || body.toString('latin1', end) !== TOKEN_BODY_END) return undefined;
  const token = body.toString('latin1', start, end);
  return JWS_CHARS.test(token) ? { token } : undefined;
}

export const tokenRoutes: FastifyPluginAsync<Options> = async (app, { tokens, ring, operator, validateRatePerMinute, fastPath, bodyLimitBytes }) => {
  const perClient = { rateLimit: { max: validateRatePerMinute, timeWindow: 60_000 } };
  // The hottest route of the project: plainly valid requests are answered before Fastify (fast-path.ts)
  // with this same serializer; everything else reaches the route below.
  const serialize = fastJson(ValidateResponse);
  // A valid answer is the same text for as long as its claims are cached: the verifier hands back the
  // same claims object for every hit of a token, so its text is kept beside it (and goes with it).
  const validText = new WeakMap<ViewerClaims, string>();
  const text = (v: Validation) => {
    if (!v.valid) return serialize(v);
    let t = validText.get(v.claims);
    if (t === undefined) validText.set(v.claims, (t = serialize(v)));
    return t;
  };
  fastPath?.add({
    url: '/api/v1/auth/validate-token',
    service: 'session',
    maxBodyBytes: bodyLimitBytes,
    rateLimit: { max: validateRatePerMinute, windowMs: 60_000 },
    quiet: true,
    parse: plainTokenBody,
    answer: (body) => {
      if (!plainValidateBody(body)) return null;
      const result = tokens.validate(body.token);
      return result instanceof Promise ? result.then(text) : text(result);
    },
  });

  app.post('/api/v1/auth/tokens', {
    onRequest: operator,
    schema: { tags: ['viewer tokens'], summary: 'Mint a viewer access + refresh token pair', security: [{ operatorKey: [] }], body: MintBody, response: { 201: TokenPair, ...operatorErrors } },
  }, async (req, reply) => {
    const body = req.body as Static<typeof MintBody>;
    const pair = await tokens.mint(body);
    req.log.info({ session_id: body.session_id, user_id: body.viewer_id, scope: pair.scope }, 'viewer token minted');
    return reply.code(201).header('cache-control', 'no-store').send(pair);
  });

  app.post('/api/v1/auth/validate-token', {
    config: { ...perClient, quietLog: true },
    ...(fastPath ? { preParsing: fastPath.replayBody } : {}),
    schema: {
      tags: ['viewer tokens'],
      summary: 'Introspect a viewer access token (no operator key: the token is the credential)',
      description: 'Always 200 for a well-formed request: `valid` says whether the token may be used now, `reason` why not.',
      body: ValidateBody,
      response: { 200: ValidateResponse, 400: P, 413: P, 415: P, 429: P },
    },
  }, (req, reply) => {
    // Not async: a cached answer is sent without a promise round trip; a first sighting returns one.
    const result = tokens.validate((req.body as Static<typeof ValidateBody>).token);
    return result instanceof Promise ? result : reply.send(result);
  });

  app.post('/api/v1/auth/refresh-token', {
    config: perClient,
    schema: {
      tags: ['viewer tokens'],
      summary: 'Exchange a refresh token for a new pair (single use; reuse revokes the family)',
      body: RefreshBody,
      response: { 200: TokenPair, 400: P, 401: P, 413: P, 415: P, 429: P },
    },
  }, async (req, reply) => reply.header('cache-control', 'no-store').send(await tokens.refresh((req.body as Static<typeof RefreshBody>).refresh_token)));

  app.post('/api/v1/auth/revoke', {
    onRequest: operator,
    schema: {
      tags: ['viewer tokens'],
      summary: 'Revoke a viewer (all its tokens in a session) or one access token; effective on every instance',
      security: [{ operatorKey: [] }],
      body: RevokeBody,
      response: { 200: Type.Object({ revoked: Type.Literal(true) }), ...operatorErrors },
    },
  }, async (req) => {
    const body = req.body as Static<typeof RevokeBody>;
    await tokens.revoke(body);
    req.log.info('session_id' in body ? { session_id: body.session_id, user_id: body.viewer_id } : { token_id: body.token_id }, 'viewer tokens revoked');
    return { revoked: true as const };
  });

  app.post('/api/v1/auth/signing-keys/rotate', {
    onRequest: operator,
    preValidation: bodylessAsEmptyObject,
    schema: {
      tags: ['viewer tokens'],
      summary: 'Rotate the token-signing key now (old key verifies until its tokens expire)',
      security: [{ operatorKey: [] }],
      body: Type.Object({}, { additionalProperties: false, description: 'Empty, or no body at all.' }),
      response: { 200: Type.Object({ kid: Type.String() }), 400: P, 401: P, 415: P },
    },
  }, async () => ({ kid: await ring.rotate(true) }));

  app.get('/.well-known/jwks.json', {
    config: { quietLog: true },
    schema: { tags: ['viewer tokens'], summary: 'Public keys that verify viewer access tokens', response: { 200: Jwks } },
  }, async (_req, reply) => reply.header('cache-control', 'public, max-age=300').send(ring.jwks()));
};
