import { createHmac } from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import type { Clock } from '../../../core/ports/index.js';

export interface ReviewConfig {
  url: string;
  secretKey: string | null;
  timeoutMs: number;
  fallback: 'allow' | 'deny';
}
export type ReviewVerdict = { allow: true; text: string } | { allow: false; reason: string };

/**
 * The synchronous review webhook (IVS Chat's review handler): sees each message before it is stored,
 * within a hard time budget; a failure or a late answer is decided by the configured fallback, so a
 * slow reviewer can delay chat by at most the budget.
 */
export class ReviewClient {
  constructor(
    private readonly cfg: ReviewConfig,
    private readonly clock: Clock,
    private readonly log: FastifyBaseLogger,
  ) {}

  async review(m: { session_id: string; user_id: string; message_id: string; text: string }): Promise<ReviewVerdict> {
    const body = JSON.stringify(m);
    const abort = new AbortController();
    const timer = this.clock.setTimeout(() => abort.abort(), this.cfg.timeoutMs);
    try {
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (this.cfg.secretKey) headers['x-streamplane-signature'] = `sha256=${createHmac('sha256', this.cfg.secretKey).update(body).digest('hex')}`;
      const res = await fetch(this.cfg.url, { method: 'POST', headers, body, signal: abort.signal, redirect: 'error' });
      if (!res.ok) throw new Error(`review webhook answered ${res.status}`);
      const answer = (await res.json()) as { allow?: unknown; text?: unknown; reason?: unknown };
      if (answer.allow === true) return { allow: true, text: typeof answer.text === 'string' ? answer.text : m.text };
      if (answer.allow === false) return { allow: false, reason: typeof answer.reason === 'string' ? answer.reason.slice(0, 200) : 'refused by review' };
      throw new Error('review webhook answer has no boolean "allow"');
    } catch (err) {
      this.log.warn({ err: abort.signal.aborted ? 'timeout' : err, session_id: m.session_id }, `chat review failed: fallback ${this.cfg.fallback}`);
      return this.cfg.fallback === 'allow' ? { allow: true, text: m.text } : { allow: false, reason: 'review unavailable' };
    } finally {
      timer.cancel();
    }
  }
}
