import { beforeAll, describe, expect, it } from 'vitest';
import { eventually, operator, SHARED_BACKENDS, twoInstances, type TestApp } from '../helpers/app.js';

/** Two realtime instances both see every Bus event; the operator event log still has it once. */
describe.skipIf(!SHARED_BACKENDS)('event log on two instances (PostgreSQL + Redis)', () => {
  const pair = twoInstances('event log two-instances');
  let a: TestApp;
  let b: TestApp;
  beforeAll(() => {
    ({ a, b } = pair);
  });

  it('records each event once, whichever instances saw it', async () => {
    const sid = (await a.app.inject({ method: 'POST', url: '/api/v1/sessions/start', headers: operator(), payload: {} })).json().id as string;
    await b.app.inject({ method: 'POST', url: '/api/v1/sessions/stop', headers: operator(), payload: { session_id: sid } });
    const count = async () =>
      (await a.backends.database.query<{ topic: string; n: string }>(`SELECT topic, count(*) AS n FROM event_log WHERE payload->>'session_id' = $1 GROUP BY topic ORDER BY topic`, [sid])).rows.map((r) => [r.topic, Number(r.n)]);
    await eventually(async () => (await count()).length === 2);
    expect(await count()).toEqual([['session.created', 1], ['session.ended', 1]]);
  });
});
