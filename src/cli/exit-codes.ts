/** Exit codes are part of the CLI's interface: scripts branch on them, so they never change meaning. */
export const EXIT = {
  ok: 0,
  failure: 1,
  usage: 2,
  unreachable: 3,
  auth: 4,
  notFound: 5,
  conflict: 6,
  invalid: 7,
  server: 8,
} as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

export function exitCodeForStatus(status: number): ExitCode {
  if (status === 401 || status === 403) return EXIT.auth;
  if (status === 404) return EXIT.notFound;
  if (status === 409 || status === 422) return EXIT.conflict;
  if (status >= 400 && status < 500) return EXIT.invalid;
  if (status >= 500) return EXIT.server;
  return EXIT.failure;
}

export const EXIT_CODES_HELP = `Exit codes:
  0  ok
  1  unexpected failure
  2  usage error (unknown command, bad flag or argument)
  3  cannot reach the server (connection refused, DNS, timeout)
  4  authentication failed (HTTP 401/403): check --api-key / STREAMPLANE_API_KEY
  5  not found (HTTP 404)
  6  conflict (HTTP 409/422), e.g. an Idempotency-Key reused with another body
  7  request rejected (other HTTP 4xx, e.g. validation); the problem's detail is printed
  8  server error (HTTP 5xx)`;
