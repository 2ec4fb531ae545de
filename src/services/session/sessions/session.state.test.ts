import { describe, expect, it } from 'vitest';
import { AppError } from '../../../core/errors.js';
import { assertTransition, nextStatus } from './session.state.js';

describe('session state machine', () => {
  it('allows created→live→ended and created→ended', () => {
    expect(nextStatus('created', 'go_live')).toBe('live');
    expect(nextStatus('live', 'end')).toBe('ended');
    expect(nextStatus('created', 'end')).toBe('ended');
  });
  it('rejects illegal transitions with a 409 naming them', () => {
    for (const [from, t] of [['live', 'go_live'], ['ended', 'go_live'], ['ended', 'end']] as const) {
      expect(nextStatus(from, t)).toBeNull();
      try {
        assertTransition('ses_x', from, t);
        expect.unreachable();
      } catch (err) {
        expect(err).toBeInstanceOf(AppError);
        expect((err as AppError).status).toBe(409);
        expect((err as AppError).code).toBe('illegal_transition');
      }
    }
  });
});
