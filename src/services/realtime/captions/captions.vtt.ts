/** What the renderer needs of a stored cue. */
export interface VttCue {
  seq: number;
  start_ms: number;
  end_ms: number;
  text: string;
}

const pad = (n: number, width: number) => String(n).padStart(width, '0');

/** A WebVTT timestamp, always with hours (`HH:MM:SS.mmm`; hours grow past two digits if need be). */
export function vttTimestamp(ms: number): string {
  const h = Math.floor(ms / 3_600_000);
  const m = Math.floor((ms % 3_600_000) / 60_000);
  const s = Math.floor((ms % 60_000) / 1000);
  return `${pad(h, 2)}:${pad(m, 2)}:${pad(s, 2)}.${pad(ms % 1000, 3)}`;
}

/**
 * Cue text as WebVTT cue payload. `&`, `<` and `>` are escaped because the payload is markup (`<b>`,
 * `<v Speaker>`): a caption writer's "<3" must not open a tag. Escaping `>` also means the text can
 * never contain `-->`, which would turn a text line into a timing line. A blank line ends a cue, so
 * line breaks are kept but empty or whitespace-only lines are dropped.
 */
export function vttPayload(text: string): string {
  return text
    .replace(/[&<>]/g, (c) => (c === '&' ? '&amp;' : c === '<' ? '&lt;' : '&gt;'))
    .split(/\r\n|\r|\n/)
    .map((line) => line.trimEnd())
    .filter((line) => line.trim().length > 0)
    .join('\n');
}

/**
 * A WebVTT file (https://www.w3.org/TR/webvtt1/) of `cues` in presentation order: by start time, and
 * cues that start together in the order they were published. Each cue's identifier is its seq, so a
 * player's cue can be matched with the socket's `cue` frame.
 */
export function renderVtt(cues: readonly VttCue[]): string {
  const sorted = [...cues].sort((a, b) => a.start_ms - b.start_ms || a.seq - b.seq);
  let out = 'WEBVTT\n';
  for (const c of sorted) out += `\n${c.seq}\n${vttTimestamp(c.start_ms)} --> ${vttTimestamp(c.end_ms)}\n${vttPayload(c.text)}\n`;
  return out;
}
