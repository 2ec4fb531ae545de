import { CliError } from './errors.js';
import { EXIT, type ExitCode } from './exit-codes.js';

/**
 * Where the CLI writes. Everything bound for stderr passes through `redact`, so the API key cannot
 * leak into an error message however it got there (an echoed flag, a header error, a URL).
 */
export interface Io {
  out(text: string): void;
  err(text: string): void;
}

export function createIo(secrets: Iterable<string>, streams: { stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream } = process): Io {
  // Only strings long enough to be a key: redacting "a" would mangle every message.
  const hidden = [...new Set(secrets)].filter((s) => s.length >= 8).sort((a, b) => b.length - a.length);
  const redact = (text: string) => hidden.reduce((t, s) => t.split(s).join('***'), text);
  return {
    out: (text) => void streams.stdout.write(redact(text)),
    err: (text) => void streams.stderr.write(redact(text)),
  };
}

/** `--json`: the API's JSON, one document per line, nothing else on stdout. */
export const jsonLine = (value: unknown) => `${JSON.stringify(value)}\n`;

const shown = (v: unknown): string => {
  if (v === null || v === undefined || v === '') return '-';
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
};

/** Aligned `label  value` lines. */
export function keyValues(rows: Array<[string, unknown]>): string {
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(width)}  ${shown(v)}`).join('\n') + '\n';
}

/** A plain table with an upper-case header; the last column is not padded (no trailing spaces). */
export function table(columns: string[], rows: unknown[][]): string {
  const cells = [columns.map((c) => c.toUpperCase()), ...rows.map((r) => r.map(shown))];
  const widths = columns.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  return cells.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')).join('\n') + '\n';
}

/** Prints a failure and returns the exit code to end with. */
export function reportError(io: Io, err: unknown, json: boolean): ExitCode {
  if (!(err instanceof CliError)) {
    const message = err instanceof Error ? err.message : String(err);
    io.err(json ? jsonLine({ code: 'unexpected_error', detail: message }) : `streamplane: unexpected error: ${message}\n`);
    return EXIT.failure;
  }
  if (json) {
    // The server's problem document verbatim when there is one; local failures get the same two fields.
    const problem = typeof err.extra.problem === 'object' && err.extra.problem !== null ? err.extra.problem : { ...(err.extra.status ? { status: err.extra.status } : {}), code: err.code, detail: err.message };
    io.err(jsonLine(problem));
  } else {
    const where = err.extra.status ? ` (${err.code}, HTTP ${err.extra.status})` : '';
    io.err(`streamplane: ${err.message}${where}\n${err.extra.hint ? `  ${err.extra.hint}\n` : ''}`);
  }
  return err.exitCode;
}
