/**
 * Domain errors. The HTTP layer turns each into an RFC 9457 problem document; `code` is stable and
 * documented, `detail` is for humans.
 */
export class AppError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'AppError';
  }
}

export const notFound = (what: string, id: string) => new AppError(404, 'not_found', `${what} ${id} does not exist`);
export const conflict = (code: string, detail: string, extra?: Record<string, unknown>) => new AppError(409, code, detail, extra);
export const badRequest = (code: string, detail: string, extra?: Record<string, unknown>) => new AppError(400, code, detail, extra);
export const unauthorized = (code: string, detail: string) => new AppError(401, code, detail);
export const forbidden = (code: string, detail: string) => new AppError(403, code, detail);

/** A backend (database, Redis) cannot be reached right now. Answered with 503; the backend reconnects by itself. */
export class DependencyUnavailableError extends Error {
  constructor(
    readonly dependency: 'database' | 'cache' | 'queue',
    cause: unknown,
  ) {
    super(`${dependency} is unavailable: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.name = 'DependencyUnavailableError';
  }
}
