/** Argument checks shared by the memory and Redis implementations, so both reject the same inputs. */
export function checkTouchArgs(ttlMs: number, limit: number | undefined): void {
  if (!Number.isFinite(ttlMs) || ttlMs <= 0) {
    throw new RangeError(`presence ttlMs must be a positive number of milliseconds, got ${ttlMs}`);
  }
  if (limit !== undefined && (!Number.isInteger(limit) || limit < 0)) {
    throw new RangeError(`presence limit must be a non-negative integer, got ${limit}`);
  }
}

/** Same for RateLimitStore.hit. */
export function checkWindow(windowMs: number): void {
  if (!Number.isFinite(windowMs) || windowMs <= 0) {
    throw new RangeError(`rate limit windowMs must be a positive number of milliseconds, got ${windowMs}`);
  }
}
