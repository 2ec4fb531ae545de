import { describe, expect, it } from 'vitest';
import { tuneGarbageCollector } from './gc-tuning.js';

describe('tuneGarbageCollector', () => {
  const run = (mode: 'auto' | 'on' | 'off', cpus: number) => {
    const flags: string[] = [];
    const on = tuneGarbageCollector(mode, cpus, (f) => flags.push(f));
    return { on, flags };
  };

  it('turns concurrent marking off on a single CPU and keeps it on with more, unless told', () => {
    expect(run('auto', 1)).toEqual({ on: false, flags: ['--no-concurrent-marking'] });
    expect(run('auto', 2)).toEqual({ on: true, flags: ['--concurrent-marking'] });
    expect(run('on', 1)).toEqual({ on: true, flags: ['--concurrent-marking'] });
    expect(run('off', 8)).toEqual({ on: false, flags: ['--no-concurrent-marking'] });
  });
});
