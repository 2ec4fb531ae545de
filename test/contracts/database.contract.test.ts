import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/core/ports/database.js';
import { DependencyUnavailableError } from '../../src/core/errors.js';
import { PgliteDatabase } from '../../src/backends/pglite/pglite-database.js';
import { PgliteThreadDatabase } from '../../src/backends/pglite/pglite-thread-database.js';
import { PostgresDatabase } from '../../src/backends/postgres/postgres-database.js';
import { DATABASE_URL, noteSkipped, uniqueId, waitFor } from './support.js';

const deferred = () => {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
};

async function unusedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

interface Leg {
  open(): Promise<Database>;
  cleanup?(): Promise<void>;
  /** Tests only this implementation needs, run on the same instance. */
  extra?(db: () => Database): void;
}

function databaseContract(name: string, leg: Leg) {
  describe(`Database contract: ${name}`, () => {
    let db: Database;
    let n = 0;
    /** A fresh table per test, so tests sharing the one instance of this file never see each other's rows. */
    const table = async (columns = 'id int PRIMARY KEY, v text') => {
      const t = `t${n++}`;
      await db.query(`CREATE TABLE ${t} (${columns})`);
      return t;
    };

    beforeAll(async () => {
      db = await leg.open();
    });
    afterAll(async () => {
      await db?.close();
      await leg.cleanup?.();
    });

    it('binds parameters, never interpolates them', async () => {
      const t = await table();
      const nasty = `x'); DROP TABLE ${t}; --`;
      await db.query(`INSERT INTO ${t} (id, v) VALUES ($1, $2), ($3, $4)`, [1, nasty, 2, null]);
      const { rows } = await db.query<{ id: number; v: string | null }>(`SELECT id, v FROM ${t} WHERE id = ANY($1::int[]) ORDER BY id`, [[1, 2]]);
      expect(rows).toEqual([
        { id: 1, v: nasty },
        { id: 2, v: null },
      ]);
      const unicode = 'żółw 🐢 \u0000'.replace('\u0000', '');
      expect((await db.query<{ v: string }>('SELECT $1::text AS v', [unicode])).rows[0]!.v).toBe(unicode);
    });

    it('reports rowCount like node-postgres', async () => {
      const t = await table();
      expect((await db.query(`INSERT INTO ${t} (id) VALUES (1), (2), (3)`)).rowCount).toBe(3);
      expect((await db.query(`SELECT * FROM ${t}`)).rowCount).toBe(3);
      expect((await db.query(`UPDATE ${t} SET v = 'x' WHERE id >= $1`, [2])).rowCount).toBe(2);
      expect((await db.query(`DELETE FROM ${t} WHERE id = $1 RETURNING id`, [1])).rows).toEqual([{ id: 1 }]);
      expect((await db.query(`DELETE FROM ${t} WHERE id = $1`, [99])).rowCount).toBe(0);
    });

    it('returns int8 and numeric as strings, timestamptz as Date, json as parsed values', async () => {
      const at = new Date('2026-03-04T05:06:07.891Z');
      const { rows } = await db.query(
        `SELECT 9007199254740993::int8 AS big, count(*) AS n, ARRAY[1, 2]::int8[] AS bigs, 1.10::numeric AS num,
                42::int4 AS i4, 1.5::float8 AS f8, true AS b, $1::timestamptz AS at, ARRAY[$1::timestamptz] AS ats,
                $2::jsonb AS jb, '{"x": [1, "y"]}'::json AS j, 'null'::jsonb AS jnull, NULL::text AS nothing
           FROM (VALUES (1), (2)) v`,
        [at, { nested: { list: [1, 2] }, s: 'é' }],
      );
      expect(rows[0]).toEqual({
        big: '9007199254740993',
        n: '2',
        bigs: ['1', '2'],
        num: '1.10',
        i4: 42,
        f8: 1.5,
        b: true,
        at,
        ats: [at],
        jb: { nested: { list: [1, 2] }, s: 'é' },
        j: { x: [1, 'y'] },
        jnull: null,
        nothing: null,
      });
      expect(rows[0]!.at).toBeInstanceOf(Date);
    });

    it('accepts int8 parameters as strings and bigints', async () => {
      const { rows } = await db.query('SELECT $1::int8 + 1 AS a, $2::int8 AS b', ['9007199254740993', 5n]);
      expect(rows[0]).toEqual({ a: '9007199254740994', b: '5' });
    });

    it("keeps PostgreSQL's SQLSTATE on error.code", async () => {
      const t = await table();
      await db.query(`INSERT INTO ${t} (id) VALUES (1)`);
      await expect(db.query(`INSERT INTO ${t} (id) VALUES ($1)`, [1])).rejects.toMatchObject({ code: '23505' });
      await expect(db.query('SELECT * FROM no_such_table_here')).rejects.toMatchObject({ code: '42P01' });
      await expect(db.query('SELEC 1')).rejects.toMatchObject({ code: '42601' });
      // The connection is still fine after errors.
      expect((await db.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    });

    it('runs several statements when given no parameters, returning the last result', async () => {
      const t = `t${n++}`;
      const { rows } = await db.query(`CREATE TABLE ${t} (id int); INSERT INTO ${t} VALUES (7); SELECT id FROM ${t}`);
      expect(rows).toEqual([{ id: 7 }]);
    });

    it('commits a transaction when fn resolves and returns its value', async () => {
      const t = await table();
      const result = await db.transaction(async (tx) => {
        await tx.query(`INSERT INTO ${t} (id, v) VALUES ($1, $2)`, [1, 'a']);
        return (await tx.query<{ n: string }>(`SELECT count(*) AS n FROM ${t}`)).rows[0]!.n;
      });
      expect(result).toBe('1');
      expect((await db.query(`SELECT v FROM ${t}`)).rows).toEqual([{ v: 'a' }]);
    });

    it('rolls back when fn throws and rethrows the same error', async () => {
      const t = await table();
      const boom = new Error('boom');
      await expect(
        db.transaction(async (tx) => {
          await tx.query(`INSERT INTO ${t} (id) VALUES (1)`);
          throw boom;
        }),
      ).rejects.toBe(boom);
      expect((await db.query(`SELECT * FROM ${t}`)).rows).toEqual([]);
    });

    it('rolls back on a SQL error inside the transaction, keeping its code', async () => {
      const t = await table();
      await expect(
        db.transaction(async (tx) => {
          await tx.query(`INSERT INTO ${t} (id) VALUES (1)`);
          await tx.query(`INSERT INTO ${t} (id) VALUES (1)`);
        }),
      ).rejects.toMatchObject({ code: '23505' });
      expect((await db.query(`SELECT * FROM ${t}`)).rows).toEqual([]);
    });

    it('refuses a transaction handle used after the transaction ended', async () => {
      const leaked = await db.transaction(async (tx) => tx);
      await expect(leaked.query('SELECT 1')).rejects.toThrow(/closed/i);
    });

    it('keeps statements outside a transaction out of it', async () => {
      const t = await table();
      const inside = deferred();
      const release = deferred();
      const tx = db.transaction(async (tx) => {
        await tx.query(`INSERT INTO ${t} (id, v) VALUES (1, 'uncommitted')`);
        inside.resolve();
        await release.promise;
        throw new Error('roll it back');
      });
      await inside.promise;
      const outsideRead = db.query<{ v: string }>(`SELECT v FROM ${t}`);
      const outsideWrite = db.query(`INSERT INTO ${t} (id, v) VALUES (2, 'outside')`);
      release.resolve();
      await expect(tx).rejects.toThrow('roll it back');
      // Never sees the uncommitted row, and its own write is not rolled back with the transaction.
      expect((await outsideRead).rows.map((r) => r.v)).not.toContain('uncommitted');
      await outsideWrite;
      expect((await db.query(`SELECT id, v FROM ${t}`)).rows).toEqual([{ id: 2, v: 'outside' }]);
    });

    it('pg_advisory_xact_lock serialises transactions holding the same key', async () => {
      const events: string[] = [];
      const worker = (name: string) =>
        db.transaction(async (tx) => {
          await tx.query('SELECT pg_advisory_xact_lock($1)', [424242]);
          events.push(`${name} in`);
          await tx.query('SELECT pg_sleep(0.02)');
          events.push(`${name} out`);
        });
      await Promise.all([worker('a'), worker('b'), worker('c')]);
      for (let i = 0; i < events.length; i += 2) {
        expect(events[i + 1]).toBe(events[i]!.replace(' in', ' out'));
      }
      // Released at commit: it can be taken again right away.
      await db.transaction((tx) => tx.query('SELECT pg_advisory_xact_lock(hashtext($1))', ['again']));
    });

    it('answers ping', async () => {
      await expect(db.ping()).resolves.toBeUndefined();
    });

    leg.extra?.(() => db);
  });
}

// --- PGlite (always) -------------------------------------------------------------------------------

/** PGlite has one connection: a query from outside an open transaction waits for it to end. */
function waitsForTransactions(getDb: () => Database, settle: () => Promise<unknown>) {
  it('makes a query issued during a transaction wait until the transaction is over', async () => {
    const db = getDb();
    const order: string[] = [];
    const release = deferred();
    const inside = deferred();
    const tx = db.transaction(async (tx) => {
      await tx.query('SELECT 1');
      inside.resolve();
      await release.promise;
      order.push('transaction done');
    });
    await inside.promise;
    const outside = db.query('SELECT 1').then(() => order.push('outside query done'));
    await settle();
    expect(order).toEqual([]);
    release.resolve();
    await Promise.all([tx, outside]);
    expect(order).toEqual(['transaction done', 'outside query done']);
  });
}

databaseContract('PgliteDatabase', {
  open: () => PgliteDatabase.open(),
  extra(getDb) {
    // PGlite runs in this thread: a few turns of the event loop are plenty for an unblocked query.
    waitsForTransactions(getDb, async () => {
      for (let i = 0; i < 50; i++) await new Promise((resolve) => setImmediate(resolve));
    });
  },
});

databaseContract('PgliteThreadDatabase', {
  open: () => PgliteThreadDatabase.open(),
  extra(getDb) {
    // PGlite runs in a worker: an unblocked query answers within milliseconds there.
    waitsForTransactions(getDb, () => new Promise((resolve) => setTimeout(resolve, 200)));

    it("keeps a SQL error's fields across the thread (SQLSTATE, constraint, detail)", async () => {
      const db = getDb();
      await db.query('CREATE TABLE thread_err (id int PRIMARY KEY)');
      await db.query('INSERT INTO thread_err VALUES (1)');
      const err = await db.query('INSERT INTO thread_err VALUES ($1)', [1]).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(Error);
      expect(err).toMatchObject({ code: '23505', constraint: 'thread_err_pkey', table: 'thread_err' });
      expect((err as Error).message).toMatch(/duplicate key/);
    });

    it('refuses a parameter that cannot cross threads, and goes on', async () => {
      const db = getDb();
      await expect(db.query('SELECT $1::text', [() => 1])).rejects.toThrow();
      await expect(db.query('SELECT 1 AS one')).resolves.toMatchObject({ rows: [{ one: 1 }] });
    });

    it('brings back a dump as a new database', async () => {
      const db = getDb();
      await db.query('CREATE TABLE thread_dump (v text)');
      await db.query('INSERT INTO thread_dump VALUES ($1)', ['kept']);
      const copy = await PgliteThreadDatabase.open({ loadDataDir: await (db as PgliteThreadDatabase).dumpDataDir() });
      try {
        expect((await copy.query('SELECT v FROM thread_dump')).rows).toEqual([{ v: 'kept' }]);
      } finally {
        await copy.close();
      }
    });

    it('rejects a database it cannot open, and every call after close', async () => {
      await expect(PgliteThreadDatabase.open({ dataDir: '/proc/version/not-a-directory' })).rejects.toThrow();
      const db = await PgliteThreadDatabase.open();
      await db.close();
      await expect(db.query('SELECT 1')).rejects.toThrow(/closed/);
      await db.close();
    });
  },
});

// --- PostgreSQL (when DATABASE_URL is set) ---------------------------------------------------------

const schema = `sptest_${uniqueId()}`;
if (!DATABASE_URL) noteSkipped('PostgresDatabase', 'DATABASE_URL (postgres://…)');

describe.skipIf(!DATABASE_URL)('PostgresDatabase', () => {
  databaseContract('PostgresDatabase', {
    open: () => PostgresDatabase.open({ url: DATABASE_URL!, schema, poolMax: 4 }),
  });

  // Here rather than in the contract's cleanup: the tests below open the same schema again.
  afterAll(async () => {
    await PostgresDatabase.dropSchema(DATABASE_URL!, schema);
  });

  it('puts every pooled connection in its own schema', async () => {
    const db = await PostgresDatabase.open({ url: DATABASE_URL!, schema, poolMax: 3 });
    try {
      const results = await Promise.all(Array.from({ length: 6 }, () => db.query<{ s: string }>('SELECT current_schema() AS s')));
      expect(new Set(results.map((r) => r.rows[0]!.s))).toEqual(new Set([schema]));
    } finally {
      await db.close();
    }
  });

  it('rejects a schema name that is not a plain identifier', async () => {
    await expect(PostgresDatabase.open({ url: DATABASE_URL!, schema: 'x"; DROP SCHEMA public; --' })).rejects.toThrow(/invalid schema name/);
  });

  it('rejects with DependencyUnavailableError when the server cannot be reached', async () => {
    const url = `postgres://postgres:secret@127.0.0.1:${await unusedPort()}/test`;
    const err = await PostgresDatabase.open({ url, connectTimeoutMs: 2_000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DependencyUnavailableError);
    expect((err as DependencyUnavailableError).dependency).toBe('database');
    expect((err as Error).message).toMatch(/DATABASE_URL/);
    expect((err as Error).message).not.toMatch(/secret/);
  });

  it('survives its connections being killed: in-flight calls get DependencyUnavailableError, later ones reconnect', async () => {
    const errors: unknown[] = [];
    const db = await PostgresDatabase.open({ url: DATABASE_URL!, schema, poolMax: 2, onError: (e) => errors.push(e) });
    const admin = await PostgresDatabase.open({ url: DATABASE_URL! });
    try {
      const pids = async () => (await Promise.all([0, 1].map(() => db.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')))).map((r) => r.rows[0]!.pid);
      const killed = await pids();
      // One call is mid-query when its connection dies.
      const inFlight = db.query('SELECT pg_sleep(5)').catch((e: unknown) => e);
      await waitFor(async () => {
        const { rows } = await admin.query<{ n: string }>(`SELECT count(*) AS n FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(5)' AND state = 'active'`);
        expect(rows[0]!.n).toBe('1');
      });
      await admin.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid = ANY($1::int[]) OR query = 'SELECT pg_sleep(5)'`, [killed]);
      expect(await inFlight).toBeInstanceOf(DependencyUnavailableError);
      await waitFor(async () => expect((await db.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]));
      await expect(db.transaction((tx) => tx.query('SELECT 1'))).resolves.toBeTruthy();
    } finally {
      await admin.close();
      await db.close();
    }
  });
});
