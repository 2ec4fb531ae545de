/**
 * Blocked terms: words, or patterns where `*` matches any run of letters or digits, matched against
 * whole words, case- and width-insensitively (NFKC + lower case). Not regular expressions: a
 * user-supplied regex can take exponential time on a crafted message; this matcher is O(word × term).
 */
export const MAX_TERM_CHARS = 64;
export const MAX_TERMS = 1_000;
const TERM = /^[\p{L}\p{N}*'-]+$/u;
const WORD = /[\p{L}\p{N}'-]+/gu;

export function termProblem(term: string): string | null {
  if (term.length === 0 || term.length > MAX_TERM_CHARS) return `must be 1–${MAX_TERM_CHARS} characters`;
  if (!TERM.test(term)) return 'may hold letters, digits, apostrophes, hyphens and * only (one word)';
  if (term.replaceAll('*', '').length === 0) return 'must hold at least one letter or digit';
  return null;
}

const normalize = (s: string) => s.normalize('NFKC').toLowerCase();

/** Classic wildcard matching with one backtrack point: linear in practice, quadratic at worst. */
function globMatch(pattern: string, word: string): boolean {
  let p = 0;
  let w = 0;
  let star = -1;
  let mark = 0;
  while (w < word.length) {
    if (p < pattern.length && pattern[p] !== '*' && pattern[p] === word[w]) {
      p++;
      w++;
    } else if (p < pattern.length && pattern[p] === '*') {
      star = p++;
      mark = w;
    } else if (star >= 0) {
      p = star + 1;
      w = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.length && pattern[p] === '*') p++;
  return p === pattern.length;
}

export class Blocklist {
  private readonly words = new Set<string>();
  private readonly patterns: string[] = [];

  constructor(terms: Iterable<string>) {
    for (const t of terms) {
      const n = normalize(t);
      if (n.includes('*')) this.patterns.push(n);
      else this.words.add(n);
    }
  }

  get empty() {
    return this.words.size === 0 && this.patterns.length === 0;
  }

  /** The first blocked word of `text`, or null. */
  match(text: string): string | null {
    if (this.empty) return null;
    for (const m of normalize(text).matchAll(WORD)) {
      const word = m[0];
      if (this.words.has(word)) return word;
      for (const p of this.patterns) if (globMatch(p, word)) return word;
    }
    return null;
  }
}
