import { Type } from '@sinclair/typebox';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError, DependencyUnavailableError } from '../core/errors.js';

/** RFC 9457 problem document; `code` is the stable machine-readable reason. */
export const Problem = Type.Object(
  {
    type: Type.String(),
    title: Type.String(),
    status: Type.Integer(),
    code: Type.String(),
    detail: Type.String(),
    instance: Type.Optional(Type.String()),
    request_id: Type.Optional(Type.String()),
    errors: Type.Optional(Type.Array(Type.Object({ field: Type.String(), message: Type.String() }))),
  },
  { $id: 'Problem', additionalProperties: true, description: 'RFC 9457 problem document' },
);

const TITLES: Record<number, string> = {
  400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed',
  406: 'Not Acceptable', 409: 'Conflict', 413: 'Content Too Large', 415: 'Unsupported Media Type',
  422: 'Unprocessable Content', 429: 'Too Many Requests', 500: 'Internal Server Error', 503: 'Service Unavailable',
};

export const PROBLEM_TYPE_BASE = 'https://streamplane.dev/problems/';

export function sendProblem(reply: FastifyReply, status: number, code: string, detail: string, extra: Record<string, unknown> = {}) {
  return reply
    .code(status)
    .type('application/problem+json')
    .send(problemDocument(status, code, detail, reply.request.url, String(reply.request.id), extra));
}

/** The RFC 9457 document itself, for answers written outside a Fastify reply (a refused WebSocket upgrade). */
export function problemDocument(status: number, code: string, detail: string, url: string, requestId: string, extra: Record<string, unknown> = {}) {
  return { type: PROBLEM_TYPE_BASE + code, title: TITLES[status] ?? 'Error', status, code, detail, instance: url.split('?')[0], request_id: requestId, ...extra };
}

/** Maps Fastify's own errors (body parsing, validation, limits) and ours to problem documents. */
export function problemFromError(err: FastifyError | Error, request: FastifyRequest): { status: number; code: string; detail: string; extra?: Record<string, unknown> } {
  if (err instanceof AppError) return { status: err.status, code: err.code, detail: err.message, extra: err.extra };
  if (err instanceof DependencyUnavailableError) {
    return { status: 503, code: 'dependency_unavailable', detail: `The ${err.dependency} is unavailable; retry shortly.`, extra: { dependency: err.dependency } };
  }
  const fe = err as FastifyError & { validation?: Array<{ instancePath: string; message?: string; params?: Record<string, unknown>; keyword: string }>; validationContext?: string };
  if (fe.validation) {
    const context = fe.validationContext ?? 'body';
    // A union of literals fails once per literal plus once for the union: say "one of …" once instead.
    const allowed = new Map<string, string[]>();
    for (const v of fe.validation) if (v.keyword === 'const') allowed.set(v.instancePath, [...(allowed.get(v.instancePath) ?? []), JSON.stringify(v.params?.allowedValue)]);
    const seen = new Set<string>();
    const errors = fe.validation.flatMap((v) => {
      let field = `${context}${v.instancePath.replace(/\//g, '.')}`;
      if (v.keyword === 'required' && v.params?.missingProperty) field += `.${String(v.params.missingProperty)}`;
      let message = v.message ?? 'is invalid';
      if (v.keyword === 'additionalProperties' && v.params?.additionalProperty) {
        field += `.${String(v.params.additionalProperty)}`;
        message = 'is not a known field';
      } else if (allowed.has(v.instancePath) && (v.keyword === 'const' || v.keyword === 'anyOf')) {
        message = `must be one of ${allowed.get(v.instancePath)!.join(', ')}`;
      }
      const k = `${field} ${message}`;
      if (seen.has(k)) return [];
      seen.add(k);
      return [{ field, message }];
    });
    return { status: 400, code: 'validation_failed', detail: errors.map((e) => `${e.field} ${e.message}`).join('; '), extra: { errors } };
  }
  switch (fe.code) {
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return { status: 415, code: 'unsupported_media_type', detail: `Content-Type ${request.headers['content-type'] ?? '(none)'} is not accepted here; send application/json.` };
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return { status: 413, code: 'body_too_large', detail: 'The request body is larger than this server accepts.' };
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return { status: 400, code: 'empty_body', detail: 'Content-Type is application/json but the body is empty.' };
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return { status: 400, code: 'malformed_body', detail: fe.message };
    case 'FST_ERR_BAD_URL':
      return { status: 400, code: 'bad_url', detail: 'The URL is not valid (check its percent-encoding).' };
    case 'FST_ERR_MAX_PARAM_LENGTH':
      return { status: 400, code: 'bad_id', detail: 'An id in the path is longer than any id this API issues.' };
    case 'FST_ERR_RATE_LIMIT_EXCEEDED':
      return { status: 429, code: 'rate_limited', detail: fe.message };
  }
  // PostgreSQL "data exception" (class 22: NUL in text, unpaired surrogates, out-of-range dates…) and
  // "statement too complex" (54001: absurdly deep JSON): the value is the client's fault, and the
  // statement failed inside its transaction, so nothing was written.
  if (typeof fe.code === 'string' && (/^22[0-9A-Z]{3}$/.test(fe.code) || fe.code === '54001')) {
    return { status: 400, code: 'invalid_value', detail: 'A value in the request cannot be stored (e.g. a NUL character, an unpaired surrogate, or a date out of range).' };
  }
  if (err instanceof SyntaxError || fe.code === 'FST_ERR_CTP_INVALID_JSON') {
    return { status: 400, code: 'malformed_json', detail: `The body is not valid JSON: ${err.message}` };
  }
  if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    return { status: fe.statusCode, code: (fe.code ?? 'bad_request').toLowerCase(), detail: fe.message };
  }
  return { status: 500, code: 'internal_error', detail: 'An unexpected error occurred; it has been logged.' };
}

export function registerProblemHandlers(app: FastifyInstance) {
  app.addSchema(Problem);
  app.setErrorHandler((err, request, reply) => {
    const p = problemFromError(err instanceof Error ? err : new Error(String(err)), request);
    // A 503 a route answers on purpose (an AppError: telemetry's full buffer, no healthy ingest node)
    // is load shedding, not a fault: a warning, without a stack.
    if (p.status >= 500 && err instanceof AppError) request.log.warn({ code: p.code, status: p.status }, 'request refused');
    else if (p.status >= 500) request.log.error({ err }, p.status === 503 ? 'dependency unavailable' : 'unhandled error');
    else request.log.info({ code: p.code, status: p.status }, 'request rejected');
    // A route that knows when to come back (telemetry: its flush interval) keeps its own Retry-After.
    if ((p.status === 429 || p.status === 503) && !reply.hasHeader('retry-after')) reply.header('retry-after', '1');
    return sendProblem(reply, p.status, p.code, p.detail, p.extra);
  });
  app.setNotFoundHandler((request, reply) =>
    sendProblem(reply, 404, 'route_not_found', `No route ${request.method} ${request.url.split('?')[0]}.`),
  );
}
