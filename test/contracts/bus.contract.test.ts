import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { Bus } from '../../src/core/ports/bus.js';
import type { EventPayload } from '../../src/core/events.js';
import { MemoryBus } from '../../src/backends/memory/memory-bus.js';
import { createRedisBackends } from '../../src/backends/redis/redis-backends.js';
import { SystemClock } from '../../src/backends/system-clock.js';
import { REDIS_URL, deleteRedisPrefix, noteSkipped, recorder, uniqueId, waitFor } from './support.js';

type OnError = (err: unknown, topic: string) => void;

interface BusHarness {
  create(onError?: OnError): Promise<Bus>;
  /** Closes everything create() made. */
  closeAll(): Promise<void>;
}

const created = (at: string, id: string): EventPayload<'session.created'> => ({ session_id: id, at });

/** `shared`: instances made by one harness share a transport (they stand for separate processes). */
function busContract(name: string, shared: boolean, makeHarness: () => BusHarness) {
  describe(`Bus contract: ${name}`, () => {
    let harness: BusHarness;
    const setup = () => {
      harness = makeHarness();
      return harness;
    };
    afterEach(async () => {
      await harness?.closeAll();
    });

    it('delivers asynchronously to every subscriber of the topic, and only that topic', async () => {
      const bus = await setup().create();
      const a = recorder<EventPayload<'session.created'>>();
      const b = recorder<EventPayload<'session.created'>>();
      const other = recorder<unknown>();
      await bus.subscribe('session.created', a.handler);
      await bus.subscribe('session.created', b.handler);
      await bus.subscribe('session.ended', other.handler);
      const published = bus.publish('session.created', created('2026-01-01T00:00:00.000Z', 's1'));
      expect(a.seen).toEqual([]); // never inline in the publisher's call
      await published;
      await waitFor(() => {
        expect(a.seen).toEqual([created('2026-01-01T00:00:00.000Z', 's1')]);
        expect(b.seen).toEqual([created('2026-01-01T00:00:00.000Z', 's1')]);
      });
      // A later event on the same topic proves nothing more arrived in between.
      await bus.publish('session.created', created('x', 'sentinel'));
      await waitFor(() => expect(a.seen).toHaveLength(2));
      expect(other.seen).toEqual([]);
    });

    it('keeps publish order per publisher', async () => {
      const bus = await setup().create();
      const seen = recorder<EventPayload<'session.created'>>();
      await bus.subscribe('session.created', seen.handler);
      const ids = Array.from({ length: 200 }, (_, i) => `s${i}`);
      await Promise.all(ids.map((id) => bus.publish('session.created', created('t', id))));
      await waitFor(() => expect(seen.seen).toHaveLength(ids.length));
      expect(seen.seen.map((p) => p.session_id)).toEqual(ids);
    });

    it('isolates handler errors from other handlers and the publisher, reporting them to onError', async () => {
      const errors: { err: unknown; topic: string }[] = [];
      const bus = await setup().create((err, topic) => errors.push({ err, topic }));
      const good = recorder<EventPayload<'session.ended'>>();
      await bus.subscribe('session.ended', () => {
        throw new Error('sync boom');
      });
      await bus.subscribe('session.ended', async () => {
        throw new Error('async boom');
      });
      await bus.subscribe('session.ended', good.handler);
      await expect(bus.publish('session.ended', { session_id: 's1', at: 't', reason: 'r' })).resolves.toBeUndefined();
      await bus.publish('session.ended', { session_id: 's2', at: 't', reason: 'r' });
      await waitFor(() => {
        expect(good.seen.map((p) => p.session_id)).toEqual(['s1', 's2']);
        expect(errors).toHaveLength(4);
      });
      expect(errors.map((e) => (e.err as Error).message).sort()).toEqual(['async boom', 'async boom', 'sync boom', 'sync boom']);
      expect(new Set(errors.map((e) => e.topic))).toEqual(new Set(['session.ended']));
    });

    it('gives each handler its own JSON copy of the payload', async () => {
      const bus = await setup().create();
      const second = recorder<EventPayload<'session.created'>>();
      await bus.subscribe('session.created', (p) => {
        p.session_id = 'mutated';
      });
      await bus.subscribe('session.created', second.handler);
      const payload = created('t', 'original');
      const published = bus.publish('session.created', payload);
      payload.session_id = 'changed after publish';
      await published;
      await waitFor(() => expect(second.seen).toEqual([created('t', 'original')]));
    });

    it('stops delivering to a handler once unsubscribed', async () => {
      const bus = await setup().create();
      const gone = recorder<EventPayload<'api_key.revoked'>>();
      const stays = recorder<EventPayload<'api_key.revoked'>>();
      const unsubscribe = await bus.subscribe('api_key.revoked', gone.handler);
      await bus.subscribe('api_key.revoked', stays.handler);
      await bus.publish('api_key.revoked', { key_id: 'k1', at: 't' });
      await waitFor(() => expect(gone.seen).toHaveLength(1));
      await unsubscribe();
      await unsubscribe(); // idempotent
      await bus.publish('api_key.revoked', { key_id: 'k2', at: 't' });
      // Same publisher, same topic: k2 reaching `stays` means it was already handed to every subscriber.
      await waitFor(() => expect(stays.seen.map((p) => p.key_id)).toEqual(['k1', 'k2']));
      expect(gone.seen.map((p) => p.key_id)).toEqual(['k1']);
    });

    it('resubscribing after the last unsubscribe works', async () => {
      const bus = await setup().create();
      const first = recorder<unknown>();
      const again = recorder<EventPayload<'signing_key.rotated'>>();
      const off = await bus.subscribe('signing_key.rotated', first.handler);
      await off();
      await bus.subscribe('signing_key.rotated', again.handler);
      await bus.publish('signing_key.rotated', { kid: 'k', at: 't' });
      await waitFor(() => expect(again.seen).toEqual([{ kid: 'k', at: 't' }]));
      expect(first.seen).toEqual([]);
    });

    it('answers ping, and rejects publish, subscribe and ping after close', async () => {
      const bus = await setup().create();
      await expect(bus.ping()).resolves.toBeUndefined();
      const off = await bus.subscribe('session.live', () => undefined);
      await bus.close();
      await bus.close(); // idempotent
      await expect(bus.publish('session.live', { session_id: 's', at: 't' })).rejects.toThrow(/closed/);
      await expect(bus.subscribe('session.live', () => undefined)).rejects.toThrow(/closed/);
      await expect(bus.ping()).rejects.toThrow(/closed/);
      await expect(off()).resolves.toBeUndefined();
    });

    describe.skipIf(!shared)('across instances', () => {
      it('delivers each event once to every subscriber on every instance, the publisher included', async () => {
        const h = setup();
        const [a, b] = [await h.create(), await h.create()];
        const onA = recorder<EventPayload<'token.revoked'>>();
        const onB1 = recorder<EventPayload<'token.revoked'>>();
        const onB2 = recorder<EventPayload<'token.revoked'>>();
        await a.subscribe('token.revoked', onA.handler);
        await b.subscribe('token.revoked', onB1.handler);
        await b.subscribe('token.revoked', onB2.handler);
        const ids = Array.from({ length: 50 }, (_, i) => `jti-${i}`);
        await Promise.all(ids.map((subject) => a.publish('token.revoked', { kind: 'jti', subject, session_id: null, viewer_id: null, revoked_at: 't' })));
        for (const r of [onA, onB1, onB2]) {
          await waitFor(() => expect(r.seen.map((p) => p.subject)).toEqual(ids));
        }
      });

      it('a closed instance stops receiving while the others continue', async () => {
        const h = setup();
        const [a, b] = [await h.create(), await h.create()];
        const onA = recorder<EventPayload<'session.live'>>();
        const onB = recorder<EventPayload<'session.live'>>();
        await a.subscribe('session.live', onA.handler);
        await b.subscribe('session.live', onB.handler);
        await b.close();
        await a.publish('session.live', { session_id: 's1', at: 't' });
        await a.publish('session.live', { session_id: 's2', at: 't' });
        await waitFor(() => expect(onA.seen).toHaveLength(2));
        expect(onB.seen).toEqual([]);
      });
    });
  });
}

busContract('MemoryBus', false, () => {
  const buses: Bus[] = [];
  return {
    async create(onError) {
      const bus = new MemoryBus(onError ? { onError } : {});
      buses.push(bus);
      return bus;
    },
    async closeAll() {
      await Promise.all(buses.splice(0).map((b) => b.close()));
    },
  };
});

const redisPrefix = `sptest:${uniqueId()}:`;
if (!REDIS_URL) noteSkipped('RedisBus', 'REDIS_URL');

describe.skipIf(!REDIS_URL)('RedisBus', () => {
  let n = 0;
  busContract('RedisBus', true, () => {
    // One namespace per test: a late delivery from an earlier test can never reach a later one.
    const prefix = `${redisPrefix}${n++}:`;
    const bundles: { close(): Promise<void> }[] = [];
    return {
      async create(onError) {
        const bundle = await createRedisBackends({ url: REDIS_URL!, prefix, clock: new SystemClock(), ...(onError ? { onError } : {}) });
        bundles.push(bundle);
        return bundle.bus;
      },
      async closeAll() {
        await Promise.all(bundles.splice(0).map((b) => b.close()));
      },
    };
  });

  afterAll(async () => {
    await deleteRedisPrefix(REDIS_URL!, redisPrefix);
  });
});
