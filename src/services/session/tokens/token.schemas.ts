import { Type } from '@sinclair/typebox';
import { SessionIdString } from '../sessions/session.schemas.js';
import { SCOPES } from '../../../http/viewer-auth/viewer-token.verifier.js';

export const ViewerIdString = Type.String({ minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9._:@|-]+$', description: 'Your id for the viewer (letters, digits and ._:@|-)' });
export const ScopeString = Type.Union(SCOPES.map((s) => Type.Literal(s)));

export const MintBody = Type.Object(
  {
    session_id: SessionIdString,
    viewer_id: ViewerIdString,
    scopes: Type.Array(ScopeString, { minItems: 1, maxItems: SCOPES.length, uniqueItems: true }),
    ttl_seconds: Type.Optional(Type.Integer({ minimum: 10, maximum: 604_800, description: 'Access token lifetime; default STREAMPLANE_ACCESS_TOKEN_TTL_SECONDS, at most STREAMPLANE_ACCESS_TOKEN_MAX_TTL_SECONDS.' })),
  },
  { additionalProperties: false },
);

export const TokenPair = Type.Object({
  access_token: Type.String({ description: 'ES256 JWT (typ at+jwt); verify with /.well-known/jwks.json' }),
  refresh_token: Type.String({ description: 'Opaque, single use: each refresh returns a new one.' }),
  token_type: Type.Literal('Bearer'),
  expires_in: Type.Integer({ description: 'Seconds until the access token expires.' }),
  refresh_expires_in: Type.Integer(),
  scope: Type.String({ description: 'Space-separated scopes.' }),
});

export const ValidateBody = Type.Object({ token: Type.String({ minLength: 1, maxLength: 4096 }) }, { additionalProperties: false });

const Claims = Type.Object({
  iss: Type.String(),
  aud: Type.String(),
  sub: Type.String({ description: 'viewer id' }),
  sid: Type.String({ description: 'session id' }),
  scope: Type.String(),
  fid: Type.String({ description: 'token family (one per mint; refreshes stay in it)' }),
  jti: Type.String(),
  iat: Type.Integer(),
  exp: Type.Integer(),
});
// One object shape rather than a union: fast-json-stringify serializes a union by validating each
// branch with ajv at response time, which cost more than the whole lookup on this hot route.
export const ValidateResponse = Type.Object({
  valid: Type.Boolean(),
  claims: Type.Optional(Type.Composite([Claims], { description: 'Present when valid.' })),
  reason: Type.Optional(Type.String({ description: 'Present when not valid: expired | revoked | session_ended | bad_signature | wrong_audience | wrong_issuer | wrong_type | unknown_key | unsupported_algorithm | not_yet_valid | malformed' })),
});

export const RefreshBody = Type.Object({ refresh_token: Type.String({ minLength: 1, maxLength: 512 }) }, { additionalProperties: false });

export const RevokeBody = Type.Union(
  [
    Type.Object({ session_id: SessionIdString, viewer_id: ViewerIdString }, { additionalProperties: false }),
    Type.Object({ token_id: Type.String({ minLength: 1, maxLength: 64, pattern: '^[0-9a-hjkmnp-tv-z]{26}$', description: 'jti of one access token' }) }, { additionalProperties: false }),
  ],
  { description: 'Either every token of a viewer in a session, or one access token by its jti.' },
);

export const Jwks = Type.Object({
  keys: Type.Array(Type.Object({ kty: Type.String(), crv: Type.String(), x: Type.String(), y: Type.String(), kid: Type.String(), alg: Type.String(), use: Type.String() })),
});
