import { readFile } from 'node:fs/promises';
import { expect, test } from 'vitest';
import { buildOpenApiDocument, renderApiTypes } from '../../scripts/gen-api-types.js';
import { SDK_API_TYPES_PATH } from '../../scripts/gen-sdk-api-types.js';

// The SDK's REST client is typed by sdk/src/api-types.ts: regenerated from the live app and compared,
// so a changed route schema cannot ship a client that silently disagrees with the server.
test('sdk/src/api-types.ts matches the OpenAPI document of the app (else run: npm run gen:api)', async () => {
  const generated = await renderApiTypes(await buildOpenApiDocument());
  const committed = await readFile(SDK_API_TYPES_PATH, 'utf8');
  expect(committed, 'sdk/src/api-types.ts is stale: run `npm run gen:api` and commit the result').toBe(generated);
});
