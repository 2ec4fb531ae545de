import { InvalidArgumentError } from 'commander';

/**
 * Option parsers check only what the shell cannot express (numbers, JSON); ranges and allowed values
 * are the server's to judge, so its problem detail is what the user sees.
 */
export function integer(value: string): number {
  if (!/^-?\d+$/.test(value.trim())) throw new InvalidArgumentError('Not an integer.');
  return Number(value);
}

export function jsonObject(value: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch (err) {
    throw new InvalidArgumentError(`not valid JSON (${err instanceof Error ? err.message : String(err)}).`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new InvalidArgumentError('Must be a JSON object, e.g. \'{"team":"news"}\'.');
  return parsed as Record<string, unknown>;
}

export function commaList(value: string): string[] {
  const items = value.split(',').map((s) => s.trim()).filter(Boolean);
  if (items.length === 0) throw new InvalidArgumentError('Give at least one value, comma-separated.');
  return items;
}
