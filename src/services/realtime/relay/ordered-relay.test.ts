import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../../test/helpers/manual-clock.js';
import { OrderedRelay } from './ordered-relay.js';

type E = { offset: number };

function relayWith(fetchRange: (room: string, from: number, to: number) => Promise<E[]>) {
  const clock = new ManualClock();
  const delivered: number[] = [];
  const relay = new OrderedRelay<E>(clock, { gapMs: 250, log: { warn() {} } as never, fetchRange, deliver: (_room, e) => delivered.push(e.offset) });
  return { clock, delivered, relay };
}
const tick = () => new Promise((r) => setImmediate(r));

describe('OrderedRelay', () => {
  it('delivers in offset order, holding an early event until its predecessor arrives', () => {
    const { relay, delivered } = relayWith(async () => []);
    relay.known('r', 0);
    relay.receive('r', { offset: 3 });
    relay.receive('r', { offset: 2 });
    expect(delivered).toEqual([]);
    relay.receive('r', { offset: 1 });
    relay.receive('r', { offset: 2 }); // a duplicate is dropped
    expect(delivered).toEqual([1, 2, 3]);
  });

  it('buffers until the first join says where the room stands, and drops what that join already read', () => {
    const { relay, delivered } = relayWith(async () => []);
    relay.receive('r', { offset: 5 });
    relay.receive('r', { offset: 6 });
    relay.known('r', 5);
    expect(delivered).toEqual([6]);
    relay.known('r', 9); // a later join does not move the relay: sockets already here still need 7–9
    relay.receive('r', { offset: 7 });
    expect(delivered).toEqual([6, 7]);
  });

  it('reads a gap from the database after gapMs, and skips a hole the database cannot fill', async () => {
    const reads: Array<[number, number]> = [];
    const { relay, delivered, clock } = relayWith(async (_room, from, to) => {
      reads.push([from, to]);
      return from === 1 ? [{ offset: 1 }, { offset: 2 }] : [];
    });
    relay.known('r', 0);
    relay.receive('r', { offset: 3 });
    await clock.advance(250);
    await tick();
    expect(reads).toEqual([[1, 3]]);
    expect(delivered).toEqual([1, 2, 3]);
    relay.receive('r', { offset: 5 });
    await clock.advance(250);
    await tick();
    expect(delivered).toEqual([1, 2, 3, 5]);
  });

  it('keeps delivering when the missing event arrives while the gap is being read', async () => {
    let release!: () => void;
    const { relay, delivered, clock } = relayWith(() => new Promise((r) => (release = () => r([{ offset: 1 }]))));
    relay.known('r', 0);
    relay.receive('r', { offset: 2 });
    await clock.advance(250);
    relay.receive('r', { offset: 1 });
    release();
    await tick();
    relay.receive('r', { offset: 3 });
    expect(delivered).toEqual([1, 2, 3]);
  });

  it('skips the gap when the database cannot be read, rather than holding the room back', async () => {
    const { relay, delivered, clock } = relayWith(async () => {
      throw new Error('database down');
    });
    relay.known('r', 0);
    relay.receive('r', { offset: 2 });
    await clock.advance(250);
    await tick();
    expect(delivered).toEqual([2]);
  });
});
