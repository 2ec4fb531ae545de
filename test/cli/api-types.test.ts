import { readFile } from 'node:fs/promises';
import { expect, test } from 'vitest';
import { API_TYPES_PATH, buildOpenApiDocument, renderApiTypes } from '../../scripts/gen-api-types.js';

// The SDK's and the CLI's clients are typed by sdk/src/api-types.ts; regenerating it from the live app
// and comparing keeps them from drifting silently when a route schema changes.
test('sdk/src/api-types.ts matches the OpenAPI document of the app (else run: npm run gen:api)', async () => {
  const generated = await renderApiTypes(await buildOpenApiDocument());
  const committed = await readFile(API_TYPES_PATH, 'utf8');
  expect(committed, 'sdk/src/api-types.ts is stale: run `npm run gen:api` and commit the result').toBe(generated);
});
