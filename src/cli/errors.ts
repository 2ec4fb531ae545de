import { EXIT, exitCodeForStatus, type ExitCode } from './exit-codes.js';

/**
 * A failure the CLI knows how to report. `problem` is the API's problem document as received, so
 * `--json` can print exactly what the server said; local failures carry none.
 */
export class CliError extends Error {
  constructor(
    readonly exitCode: ExitCode,
    readonly code: string,
    message: string,
    readonly extra: { status?: number; problem?: unknown; hint?: string } = {},
  ) {
    super(message);
    this.name = 'CliError';
  }
}

export const usageError = (message: string) => new CliError(EXIT.usage, 'usage_error', message);

/** Builds the error for a non-2xx answer; the body may be a problem document or anything a proxy sent. */
export function apiError(status: number, body: unknown, hint?: string): CliError {
  const p = typeof body === 'object' && body !== null ? (body as { code?: unknown; detail?: unknown; title?: unknown }) : {};
  const code = typeof p.code === 'string' ? p.code : `http_${status}`;
  const detail =
    typeof p.detail === 'string' ? p.detail
    : typeof p.title === 'string' ? p.title
    : typeof body === 'string' && body.trim() ? body.trim().slice(0, 300)
    : `HTTP ${status}`;
  return new CliError(exitCodeForStatus(status), code, detail, { status, problem: body, hint });
}

/** fetch() rejects only when no HTTP answer arrived: refused, DNS, TLS, reset or our timeout. */
export function unreachable(origin: string, err: unknown): CliError {
  const reason = describeNetworkError(err);
  return new CliError(EXIT.unreachable, 'server_unreachable', `cannot reach the server at ${origin}: ${reason}`, {
    hint: 'Is it running? Start one with `streamplane start`, or point --url / STREAMPLANE_URL at it.',
  });
}

function describeNetworkError(err: unknown): string {
  if (err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError')) return 'no answer before the timeout';
  // undici wraps the socket error in `cause`; with several addresses it is an AggregateError.
  let cause: unknown = err instanceof Error && err.cause ? err.cause : err;
  if (cause instanceof AggregateError && cause.errors.length > 0) cause = cause.errors[0];
  const c = cause as { code?: unknown; message?: unknown };
  if (typeof c.code === 'string') return c.code;
  return typeof c.message === 'string' ? c.message : String(cause);
}
