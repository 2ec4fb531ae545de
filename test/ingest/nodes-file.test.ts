import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, operator } from '../helpers/app.js';

describe('STREAMPLANE_INGEST_NODES_FILE', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sp-nodes-'));
  });
  afterAll(async () => rm(dir, { recursive: true, force: true }));

  it('registers the listed nodes at start', async () => {
    const file = join(dir, 'nodes.json');
    await writeFile(file, JSON.stringify([
      { name: 'edge-1', kind: 'nginx-rtmp', region: 'eu', ingest_url: 'rtmp://10.1.0.1:1935/live', capacity: 5 },
      { name: 'edge-2', kind: 'srs', region: 'us', ingest_url: 'rtmp://10.1.0.2:1935/live' },
    ]));
    const t = await createTestApp({ env: { STREAMPLANE_INGEST_NODES_FILE: file } });
    try {
      const nodes = (await t.app.inject({ method: 'GET', url: '/api/v1/ingest/nodes', headers: operator() })).json().data;
      expect(nodes.map((n: { name: string; capacity: number }) => [n.name, n.capacity]).sort()).toEqual([['edge-1', 5], ['edge-2', 100]]);
    } finally {
      await t.close();
    }
  });

  it('refuses to start on a bad file, naming the file and the problem', async () => {
    const bad = join(dir, 'bad.json');
    await writeFile(bad, JSON.stringify([{ name: 'x', kind: 'wowza', region: 'eu', ingest_url: 'rtmp://h/live' }]));
    await expect(createTestApp({ env: { STREAMPLANE_INGEST_NODES_FILE: bad } })).rejects.toThrow(/bad\.json: \/0\/kind/);
    const dup = join(dir, 'dup.json');
    const n = { name: 'same', kind: 'srs', region: 'eu', ingest_url: 'rtmp://h/live' };
    await writeFile(dup, JSON.stringify([n, n]));
    await expect(createTestApp({ env: { STREAMPLANE_INGEST_NODES_FILE: dup } })).rejects.toThrow(/appears twice/);
    const notJson = join(dir, 'broken.json');
    await writeFile(notJson, '[{');
    await expect(createTestApp({ env: { STREAMPLANE_INGEST_NODES_FILE: notJson } })).rejects.toThrow(/broken\.json/);
  });
});
