import { AppError } from '../core/errors.js';

/**
 * Opaque cursors for id-ordered lists (ids sort by creation time): the base64url of the last id of a
 * page. Decoding checks the id's shape, so a forged cursor is a 400, not a query.
 */
export const encodeCursor = (id: string) => Buffer.from(id).toString('base64url');

export function decodeCursor(cursor: string, prefix: string): string {
  const id = Buffer.from(cursor, 'base64url').toString();
  if (!new RegExp(`^${prefix}_[0-9a-hjkmnp-tv-z]{26}$`).test(id)) throw new AppError(400, 'bad_cursor', 'cursor is not one this API returned.');
  return id;
}
