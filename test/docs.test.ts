import { readFile } from 'node:fs/promises';
import { expect, it } from 'vitest';
import { openApiDocument, renderApi, renderConfiguration } from '../scripts/gen-docs.js';

const read = (p: string) => readFile(new URL(`../docs/${p}`, import.meta.url), 'utf8');

it('docs/configuration.md documents every variable of the config schema (run npm run gen:docs)', async () => {
  expect(await read('configuration.md')).toBe(renderConfiguration());
});

it('docs/api.md and docs/openapi.json match the running API (run npm run gen:docs)', async () => {
  const doc = await openApiDocument();
  expect(JSON.parse(await read('openapi.json'))).toEqual(JSON.parse(JSON.stringify(doc)));
  expect(await read('api.md')).toBe(renderApi(doc));
  expect((doc as { openapi: string }).openapi).toBe('3.1.0');
});
