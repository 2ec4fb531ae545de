import { writeFile } from 'node:fs/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { buildOpenApiDocument, renderApiTypes } from './gen-api-types.js';

/**
 * Writes sdk/src/api-types.ts, the types of the SDK's REST client, from the OpenAPI document of the
 * real app: the same document and renderer as the CLI's types (scripts/gen-api-types.ts), so the two
 * never disagree. Run by `npm run gen:api`; sdk/test/api-types.test.ts fails when the file is stale.
 */
export const SDK_API_TYPES_PATH = fileURLToPath(new URL('../sdk/src/api-types.ts', import.meta.url));

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await writeFile(SDK_API_TYPES_PATH, await renderApiTypes(await buildOpenApiDocument()));
  process.stdout.write(`wrote ${SDK_API_TYPES_PATH}\n`);
}
