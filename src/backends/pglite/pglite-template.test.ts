import { cp, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { defaultStartMigrations } from '../../main.js';
import { migrate, type Migration } from '../migrator.js';
import { PgliteDatabase } from './pglite-database.js';
import { beginSeeding, buildMigratedTemplate, buildTemplate, migratedTemplatePath, seedFromTemplate, templatePath } from './pglite-template.js';

// Instances are opened one after another (never two at once): each costs ~0.8 GB while open.
const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});
const scratch = async () => {
  const d = await mkdtemp(join(tmpdir(), 'sptest-template-'));
  dirs.push(d);
  return d;
};

it('a new data directory starts as a copy of the install-time template and opens as a database', async () => {
  // `npm ci` made it (postinstall); a checkout installed without scripts makes it here, once.
  expect(['built', 'present']).toContain(await buildTemplate());
  expect(templatePath()).toContain(join('node_modules', '.cache', 'streamplane', 'pglite-'));
  const root = await scratch();
  const dataDir = join(root, 'data');
  expect(await seedFromTemplate(dataDir)).toBe('initdb');
  expect(existsSync(join(dataDir, 'PG_VERSION'))).toBe(true);
  const db = await PgliteDatabase.open({ dataDir });
  await db.query('CREATE TABLE t (id int PRIMARY KEY)');
  await db.query('INSERT INTO t VALUES (1)');
  await db.close();
  // Existing data is never overwritten by the template.
  expect(await seedFromTemplate(dataDir)).toBe(false);
  const again = await PgliteDatabase.open({ dataDir });
  expect((await again.query('SELECT count(*)::int AS n FROM t')).rows[0]).toEqual({ n: 1 });
  await again.close();
});

it('leaves a directory alone when it has files or when no template is ready', async () => {
  const busy = await scratch();
  await writeFile(join(busy, 'something'), 'x');
  expect(await seedFromTemplate(busy)).toBe(false);
  const empty = join(await scratch(), 'new');
  const unready = join(await scratch(), 'template');
  await mkdir(unready);
  expect(await seedFromTemplate(empty, { template: unready })).toBe(false);
  expect(await seedFromTemplate(empty, { template: unready, migrations: [{ id: 'x/0001.sql', sql: 'SELECT 1' }] })).toBe(false);
  expect(existsSync(empty)).toBe(false);
});

it('a copy that fails halfway leaves no directory a start would take for a database', async () => {
  // A template the copy cannot finish: a FIFO makes fs.cp fail after the files before it were copied.
  const template = join(await scratch(), 'template');
  await mkdir(join(template, 'base'), { recursive: true });
  await writeFile(join(template, 'PG_VERSION'), '17');
  await writeFile(join(template, '.streamplane-template-ready'), '');
  execFileSync('mkfifo', [join(template, 'base', 'zz-fifo')]);
  const root = await scratch();
  const fresh = join(root, 'data');
  await expect(seedFromTemplate(fresh, { template })).rejects.toThrow();
  expect(existsSync(fresh)).toBe(false);
  expect(readdirSync(root)).toEqual([]);
  // A directory that exists empty (a mounted volume, say) is emptied again after a failed copy.
  const mounted = join(root, 'mounted');
  await mkdir(mounted);
  await expect(seedFromTemplate(mounted, { template })).rejects.toThrow();
  expect(readdirSync(mounted)).toEqual([]);
});

describe('the template with the migrations applied', () => {
  /**
   * What the migrations made, as text: every schema object of `public` with its definition, and every
   * row (the migration records without their timestamps). Two databases with equal snapshots answer
   * every query of the application alike.
   */
  async function snapshot(db: PgliteDatabase): Promise<Record<string, unknown[]>> {
    const q = async (sql: string) => (await db.query(sql)).rows;
    const tables = (await q(`SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1`)).map((r) => String(r.tablename));
    const rows: Record<string, unknown[]> = {};
    for (const t of tables) {
      const cols = t === 'streamplane_migrations' ? 'id' : '*';
      rows[t] = (await q(`SELECT to_jsonb(r)::text AS row FROM (SELECT ${cols} FROM "${t}") r ORDER BY 1`)).map((r) => r.row);
    }
    return {
      columns: await q(`SELECT table_name, column_name, data_type, udt_name, column_default, is_nullable, ordinal_position FROM information_schema.columns WHERE table_schema = 'public' ORDER BY 1, 7`),
      indexes: await q(`SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1`),
      constraints: await q(`SELECT conrelid::regclass::text AS rel, conname, pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE connamespace = 'public'::regnamespace ORDER BY 1, 2`),
      functions: await q(`SELECT proname, pg_get_function_identity_arguments(oid) AS args, pg_get_functiondef(oid) AS def FROM pg_proc WHERE pronamespace = 'public'::regnamespace ORDER BY 1, 2`),
      triggers: await q(`SELECT tgname, pg_get_triggerdef(oid) AS def FROM pg_trigger WHERE NOT tgisinternal ORDER BY 1`),
      views: await q(`SELECT viewname, definition FROM pg_views WHERE schemaname = 'public' ORDER BY 1`),
      sequences: await q(`SELECT sequencename, last_value::text AS last_value FROM pg_sequences WHERE schemaname = 'public' ORDER BY 1`),
      types: await q(`SELECT typname, typtype FROM pg_type WHERE typnamespace = 'public'::regnamespace ORDER BY 1`),
      enums: await q(`SELECT enumtypid::regtype::text AS type, enumlabel FROM pg_enum ORDER BY 1, enumsortorder`),
      extensions: await q(`SELECT extname, extversion FROM pg_extension ORDER BY 1`),
      rows: Object.entries(rows),
    };
  }

  /** Opens `dataDir`, applies `groups` as src/main.ts does (one migrate per service), snapshots it. */
  async function startOn(dataDir: string, groups: Migration[][]): Promise<{ applied: string[]; snapshot: Record<string, unknown[]> }> {
    const db = await PgliteDatabase.open({ dataDir });
    try {
      const applied: string[] = [];
      for (const g of groups) applied.push(...(await migrate(db, g)));
      return { applied, snapshot: await snapshot(db) };
    } finally {
      await db.close();
    }
  }

  /** A plain template of our own (a copy of the installed one), so migrated templates built here never touch node_modules. */
  async function privateBase(): Promise<string> {
    await buildTemplate();
    const base = join(await scratch(), 'pglite-test');
    await cp(templatePath(), base, { recursive: true });
    return base;
  }

  it('gives a new directory exactly what applying the migrations to the plain template gives, with nothing left to apply', async () => {
    const groups = await defaultStartMigrations();
    const migrations = groups.flat();
    expect(migrations.map((m) => m.id)).toContain('session/0001_init.sql');
    const base = await privateBase();
    expect(await buildMigratedTemplate(migrations, base)).toBe('built');
    expect(await buildMigratedTemplate(migrations, base)).toBe('present');

    const root = await scratch();
    expect(await seedFromTemplate(join(root, 'from-migrated'), { template: base, migrations })).toBe('migrated');
    const fromTemplate = await startOn(join(root, 'from-migrated'), groups);
    expect(fromTemplate.applied).toEqual([]);

    expect(await seedFromTemplate(join(root, 'from-scratch'), { template: base })).toBe('initdb');
    const fromScratch = await startOn(join(root, 'from-scratch'), groups);
    expect(fromScratch.applied).toEqual(migrations.map((m) => m.id));

    expect(fromTemplate.snapshot).toEqual(fromScratch.snapshot);
    const records = (fromTemplate.snapshot.rows as Array<[string, string[]]>).find(([t]) => t === 'streamplane_migrations')![1];
    expect(records.map((r) => (JSON.parse(r) as { id: string }).id).sort()).toEqual(migrations.map((m) => m.id).sort());
    expect((fromTemplate.snapshot.columns as unknown[]).length).toBeGreaterThan(10);
  });

  it('is not used for another list of migrations, and a rebuild for a changed list replaces it', async () => {
    const migrations: Migration[] = [
      { id: 'a/0001_init.sql', sql: 'CREATE TABLE a (id int PRIMARY KEY);' },
      { id: 'b/0001_init.sql', sql: 'CREATE TABLE b (id int PRIMARY KEY);' },
    ];
    const edited = [migrations[0]!, { ...migrations[1]!, sql: 'CREATE TABLE b (id int PRIMARY KEY, n int);' }];
    const others: Migration[][] = [edited, migrations.slice(0, 1), [...migrations].reverse(), [...migrations, { id: 'b/0002_more.sql', sql: 'CREATE TABLE c (id int);' }]];
    const base = await privateBase();
    expect(await buildMigratedTemplate(migrations, base)).toBe('built');
    for (const list of others) expect(migratedTemplatePath(list, base)).not.toBe(migratedTemplatePath(migrations, base));

    const root = await scratch();
    for (const [i, list] of others.entries()) expect(await seedFromTemplate(join(root, `other-${i}`), { template: base, migrations: list })).toBe('initdb');
    // The stale template's table is not there: the start migrates the plain copy itself.
    const stale = await startOn(join(root, 'other-0'), [edited]);
    expect(stale.applied).toEqual(edited.map((m) => m.id));
    expect(stale.snapshot.columns).toContainEqual(expect.objectContaining({ table_name: 'b', column_name: 'n' }));

    expect(await buildMigratedTemplate(edited, base)).toBe('built');
    expect(existsSync(migratedTemplatePath(migrations, base))).toBe(false);
    expect(await seedFromTemplate(join(root, 'edited'), { template: base, migrations: edited })).toBe('migrated');
    expect((await startOn(join(root, 'edited'), [edited])).applied).toEqual([]);
  });

  it('can start copying before the list is known, and places the copy only when it is the template of that list', async () => {
    const migrations: Migration[] = [{ id: 'a/0001_init.sql', sql: 'CREATE TABLE a (id int PRIMARY KEY);' }];
    const other: Migration[] = [{ id: 'a/0001_init.sql', sql: 'CREATE TABLE a (id bigint PRIMARY KEY);' }];
    const base = await privateBase();
    const root = await scratch();
    const leftovers = () => readdirSync(root).filter((n) => n.includes('.seeding-'));

    // No migrated template yet: the same as seedFromTemplate.
    expect(await beginSeeding(join(root, 'none'), base).finish(migrations)).toBe('initdb');

    expect(await buildMigratedTemplate(migrations, base)).toBe('built');
    expect(await beginSeeding(join(root, 'same'), base).finish(migrations)).toBe('migrated');
    expect((await startOn(join(root, 'same'), [migrations])).applied).toEqual([]);
    await mkdir(join(root, 'empty'));
    expect(await beginSeeding(join(root, 'empty'), base).finish(migrations)).toBe('migrated');
    expect(existsSync(join(root, 'empty', 'PG_VERSION'))).toBe(true);

    // The copy made before the list was known is of another list's template: dropped, the plain one is used.
    expect(await beginSeeding(join(root, 'other'), base).finish(other)).toBe('initdb');
    const migrated = await startOn(join(root, 'other'), [other]);
    expect(migrated.applied).toEqual(['a/0001_init.sql']);
    expect(migrated.snapshot.columns).toContainEqual(expect.objectContaining({ table_name: 'a', udt_name: 'int8' }));
    expect(await beginSeeding(join(root, 'no-list'), base).finish([])).toBe('initdb');

    // A directory with data is left alone; nothing is left behind in any case.
    expect(await beginSeeding(join(root, 'same'), base).finish(migrations)).toBe(false);
    expect(leftovers()).toEqual([]);
  });
});
