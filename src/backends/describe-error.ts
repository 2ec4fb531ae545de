/** Helpers for error messages that name a backend without leaking its password. */

/** The URL without its password. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparseable URL)';
  }
}

/** A one-line reason; Node's AggregateError from a failed connect has an empty message. */
export function describeError(err: unknown): string {
  if (err instanceof AggregateError && err.message === '') return err.errors.map(describeError).join('; ');
  if (err instanceof Error) return err.message || String((err as { code?: unknown }).code ?? err.name);
  return String(err);
}
