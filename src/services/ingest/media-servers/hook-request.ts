import type { Static, TSchema } from '@sinclair/typebox';
import type { TypeCheck } from '@sinclair/typebox/compiler';
import type { HookRequest, ParseResult } from '../../../core/ports/media-server.js';

/**
 * Request-reading helpers every adapter shares: pure functions over a HookRequest, no wire-format
 * knowledge of any one server. The `check…` functions answer the refusal to return, or null when the
 * request passes, so that an adapter keeps its own order of checks (OME verifies the signature between
 * the length check and the content-type check, for instance).
 */

export type ParseFailure = Extract<ParseResult, { ok: false }>;

/** Longest credential an adapter reports; a longer one is refused before it reaches the service. */
export const MAX_KEY_LENGTH = 512;

export function fail(status: ParseFailure['status'], reason: string): ParseFailure {
  return { ok: false, status, reason };
}

/** A header's value, the first one when the client repeated it. Names are lower-case (Node's convention). */
export function header(headers: HookRequest['headers'], name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** The Content-Type without parameters, lower-cased; '' when there is none. */
export function mediaType(headers: HookRequest['headers']): string {
  return (header(headers, 'content-type') ?? '').split(';', 1)[0]!.trim().toLowerCase();
}

/** 415 unless the body is declared JSON or not declared at all. */
export function checkJsonContentType(request: HookRequest): ParseFailure | null {
  const contentType = mediaType(request.headers);
  return contentType !== '' && contentType !== 'application/json' ? fail(415, 'expected application/json') : null;
}

/** 400 when a Content-Length is given and the body is not that long: a truncated callback is never half-read. */
export function checkContentLength(request: HookRequest): ParseFailure | null {
  const declared = header(request.headers, 'content-length');
  return declared !== undefined && declared.trim() !== String(request.rawBody.length) ? fail(400, 'body length differs from Content-Length (truncated?)') : null;
}

/** The body as JSON of the compiled schema, or a 400 that names the first offending path (never a value). */
export function parseJsonBody<T extends TSchema>(rawBody: Buffer, check: TypeCheck<T>): { ok: true; body: Static<T> } | ParseFailure {
  let json: unknown;
  try {
    json = JSON.parse(rawBody.toString('utf8'));
  } catch {
    return fail(400, 'body is not JSON');
  }
  if (!check.Check(json)) {
    const first = check.Errors(json).First();
    return fail(400, first ? `invalid body at ${first.path || '/'}: ${first.message}` : 'invalid body');
  }
  return { ok: true, body: json };
}

/**
 * The JSON callbacks of SRS and MediaMTX: JSON (or undeclared) content type, a body as long as
 * declared, and a body of the schema, checked in that order.
 */
export function readJsonRequest<T extends TSchema>(request: HookRequest, check: TypeCheck<T>): { ok: true; body: Static<T> } | ParseFailure {
  return checkJsonContentType(request) ?? checkContentLength(request) ?? parseJsonBody(request.rawBody, check);
}

/** 400 when the credential is longer than MAX_KEY_LENGTH characters. */
export function checkKeyLength(key: string | null): ParseFailure | null {
  return key !== null && key.length > MAX_KEY_LENGTH ? fail(400, `key longer than ${MAX_KEY_LENGTH} characters`) : null;
}

/** A reason fit for a response body or a server log line: no control characters, at most 200 characters. */
export function shortReason(reason: string): string {
  return reason.replace(/[\u0000-\u001f\u007f]/g, ' ').slice(0, 200);
}
