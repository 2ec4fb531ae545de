import { createHmac, timingSafeEqual } from 'node:crypto';
import { Type, type Static } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import type { HookDecision, HookRequest, HookResponse, MediaServerAdapter, MediaServerEvent, MediaServerEventType, ParseResult } from '../../../../core/ports/media-server.js';
import { checkContentLength, checkJsonContentType, checkKeyLength, fail, parseJsonBody, shortReason } from '../hook-request.js';

/**
 * OvenMediaEngine AdmissionWebhooks (docs/media-servers/ome.md): one signed JSON POST when a session
 * opens and one when it closes. The requested URL has the shape `scheme://host[:port]/app/stream[/file][?query]`.
 */

const HOOKS: readonly string[] = Object.freeze(['admission']);

// OME leaves `client` null when it knows nothing about the peer, and omits `url` if it has none.
const OmeAdmissionBody = Type.Object({
  client: Type.Optional(
    Type.Union([
      Type.Null(),
      Type.Object({
        address: Type.Optional(Type.String()),
        port: Type.Optional(Type.Integer({ minimum: 0, maximum: 65535 })),
        real_ip: Type.Optional(Type.String()),
        user_agent: Type.Optional(Type.String()),
      }),
    ]),
  ),
  request: Type.Object({
    direction: Type.Union([Type.Literal('incoming'), Type.Literal('outgoing')]),
    protocol: Type.String(),
    status: Type.Union([Type.Literal('opening'), Type.Literal('closing')]),
    url: Type.String(),
    new_url: Type.Optional(Type.String()),
    time: Type.Optional(Type.String()),
  }),
});
type OmeAdmissionBody = Static<typeof OmeAdmissionBody>;
const checkBody = TypeCompiler.Compile(OmeAdmissionBody);

const EVENT_OF: Readonly<Record<`${'incoming' | 'outgoing'}/${'opening' | 'closing'}`, MediaServerEventType>> = {
  'incoming/opening': 'publish.requested',
  'incoming/closing': 'publish.ended',
  'outgoing/opening': 'play.requested',
  'outgoing/closing': 'play.ended',
};

// `new_url` must repeat the request's scheme, host, port, app and file with only the stream replaced:
// parse() reports the URL around the stream segment (no key, no query) in `urlAroundStream`.

export const omeAdapter: MediaServerAdapter = Object.freeze({
  kind: 'ome',
  hooks: HOOKS,
  parse,
  render,
});

function parse(request: HookRequest, secret: string): ParseResult {
  if (request.hook !== 'admission') return fail(404, 'unknown OME hook');
  const truncated = checkContentLength(request);
  if (truncated) return truncated;
  // Before reading the body, so an unsigned caller learns nothing about what we would accept.
  if (!signatureMatches(request.headers['x-ome-signature'], request.rawBody, secret)) return fail(401, 'missing or bad X-OME-Signature');
  if (request.method !== 'POST') return fail(400, 'OME admission webhooks are POST');
  const read = checkJsonContentType(request) ?? parseJsonBody(request.rawBody, checkBody);
  if (!read.ok) return read;
  const body: OmeAdmissionBody = read.body;
  const { direction, status } = body.request;
  const type = EVENT_OF[`${direction}/${status}`];

  const url = splitUrl(body.request.url);
  if (!url?.app) return fail(400, 'request.url is not scheme://host/app/stream');
  const query = new URLSearchParams(url.query);
  let key: string | null;
  if (direction === 'incoming') {
    key = query.get('key') || url.stream;
    if (key === null) return fail(400, 'publish URL names no stream');
  } else {
    key = query.get('token') || null;
  }
  const badKey = checkKeyLength(key);
  if (badKey) return badKey;

  const event: MediaServerEvent = {
    type,
    key,
    app: url.app,
    stream: url.stream,
    // OME has no connection id in this payload.
    clientId: null,
    // The transport peer: real_ip comes from X-Real-IP / X-Forwarded-For, which a direct client can forge.
    addr: body.client?.address || null,
    protocol: body.request.protocol,
    urlAroundStream: { before: url.before, after: url.after },
  };
  return { ok: true, event };
}

function render(event: MediaServerEvent, decision: HookDecision): HookResponse {
  // OME reads a body only from HTTP 200; any other status, or bad JSON, is a refusal anyway.
  if (event.type !== 'publish.requested' && event.type !== 'play.requested') return json({});
  if (decision.kind === 'deny') return json({ allowed: false, reason: shortReason(decision.reason) });
  const answer: { allowed: true; new_url?: string; lifetime?: number } = { allowed: true };
  if (decision.kind === 'allow') {
    if (decision.rename !== undefined) {
      const around = event.urlAroundStream;
      if (!around) return json({ allowed: false, reason: 'rename_unavailable' });
      if (decision.rename === '') return json({ allowed: false, reason: 'invalid_rename' });
      answer.new_url = `${around.before}${encodeURIComponent(decision.rename)}${around.after}`;
    }
    // OME ignores a lifetime that is not an unsigned integer; 0 means unlimited.
    if (decision.lifetimeMs !== undefined && Number.isFinite(decision.lifetimeMs) && decision.lifetimeMs >= 0) {
      answer.lifetime = Math.floor(decision.lifetimeMs);
    }
  }
  return json(answer);
}

interface SplitUrl {
  app: string | null;
  stream: string | null;
  query: string;
  before: string;
  after: string;
}

// Split by hand rather than with WHATWG URL: it would normalise default ports and hosts for ws/http,
// and new_url must repeat the request's scheme, port and file verbatim.
function splitUrl(raw: string): SplitUrl | null {
  const m = /^([a-zA-Z][a-zA-Z0-9+.-]*:\/\/[^/?#]*)(\/[^?#]*)?(?:\?([^#]*))?(?:#.*)?$/.exec(raw);
  if (!m) return null;
  const [, origin, path = '', query = ''] = m;
  const segments = path.split('/').slice(1);
  const decoded: string[] = [];
  for (const segment of segments.slice(0, 2)) {
    try {
      decoded.push(decodeURIComponent(segment));
    } catch {
      return null;
    }
  }
  const rest = segments.slice(2);
  return {
    app: decoded[0] || null,
    stream: decoded[1] || null,
    query,
    before: `${origin}/${segments[0] ?? ''}/`,
    after: rest.length > 0 ? `/${rest.join('/')}` : '',
  };
}

function signatureMatches(header: string | string[] | undefined, body: Buffer, secret: string): boolean {
  // An empty secret would let anyone sign; two signature headers are ambiguous.
  if (secret === '' || typeof header !== 'string') return false;
  // OME writes URL-safe base64; clients in the wild differ on the trailing '=' of a 20-byte digest.
  const given = Buffer.from(header.trim().replace(/=+$/, ''));
  const expected = Buffer.from(createHmac('sha1', secret).update(body).digest('base64url'));
  return given.length === expected.length && timingSafeEqual(given, expected);
}

function json(body: object): HookResponse {
  return { status: 200, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) };
}
