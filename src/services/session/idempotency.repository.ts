import { createHash } from 'node:crypto';
import { AppError } from '../../core/errors.js';
import type { Database, Queryable } from '../../core/ports/database.js';

export const IDEMPOTENCY_KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;
/** Stored responses are replayed for this long (Stripe keeps them 24 h). */
export const IDEMPOTENCY_RETENTION_MS = 24 * 3600_000;

export const requestHash = (body: unknown) => createHash('sha256').update(JSON.stringify(body ?? null)).digest('base64url');

/**
 * Runs `fn` at most once per (scope, key): the stored response is replayed for a retry with the same
 * body, and a retry with a different body is refused (422). The key row is inserted in the same
 * transaction as the work, so a concurrent duplicate waits on the first and then replays its answer.
 */
export async function withIdempotency<T>(
  db: Database,
  opts: { scope: string; key: string | undefined; body: unknown; now: Date },
  fn: (tx: Queryable) => Promise<{ status: number; body: T }>,
): Promise<{ status: number; body: T; replayed: boolean }> {
  if (opts.key === undefined) return { ...(await db.transaction(fn)), replayed: false };
  if (!IDEMPOTENCY_KEY_PATTERN.test(opts.key)) {
    throw new AppError(400, 'bad_idempotency_key', 'Idempotency-Key must be 1-255 printable ASCII characters.');
  }
  const hash = requestHash(opts.body);
  const replay = async () => {
    const { rows } = await db.query<{ request_hash: string; status: number; body: T }>(
      'SELECT request_hash, status, body FROM idempotency_keys WHERE scope = $1 AND key = $2',
      [opts.scope, opts.key],
    );
    const row = rows[0];
    if (!row) return null;
    if (row.request_hash !== hash) {
      throw new AppError(422, 'idempotency_key_reused', 'This Idempotency-Key was used with a different request body.');
    }
    return { status: row.status, body: row.body, replayed: true };
  };
  const earlier = await replay();
  if (earlier) return earlier;
  try {
    return await db.transaction(async (tx) => {
      const result = await fn(tx);
      await tx.query(
        'INSERT INTO idempotency_keys (scope, key, request_hash, status, body, created_at) VALUES ($1, $2, $3, $4, $5, $6)',
        [opts.scope, opts.key, hash, result.status, JSON.stringify(result.body), opts.now],
      );
      return { ...result, replayed: false };
    });
  } catch (err) {
    if ((err as { code?: string }).code === '23505') {
      const winner = await replay();
      if (winner) return winner;
    }
    throw err;
  }
}

export async function purgeIdempotencyKeys(db: Database, olderThan: Date) {
  await db.query('DELETE FROM idempotency_keys WHERE created_at < $1', [olderThan]);
}
