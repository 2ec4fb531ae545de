import { Ajv, type Options } from 'ajv';
import addFormatsImport from 'ajv-formats';
import type { FastifyServerOptions } from 'fastify';

// ajv-formats ships CJS with a default export; under NodeNext it arrives wrapped.
const addFormats = ((addFormatsImport as unknown as { default?: typeof addFormatsImport }).default ?? addFormatsImport) as unknown as (ajv: Ajv) => Ajv;

// unicode: false makes maxLength count UTF-16 units in O(1) instead of walking every string (a 500-byte
// token on every validate call); limits are then at most slightly stricter for astral characters.
const BASE: Options = { allErrors: true, useDefaults: true, removeAdditional: false, strict: false, allowUnionTypes: true, unicode: false };

/**
 * Two validators: bodies are checked strictly (no type coercion, unknown fields rejected instead of
 * silently stripped, which is Fastify's default), while path, query and headers arrive as strings and
 * are coerced to the schema's types. Installed as a compilers factory (not setValidatorCompiler) so that
 * every plugin context, including those that add shared schemas, gets the same rules.
 */
export const validatorCompilersFactory: NonNullable<NonNullable<FastifyServerOptions['schemaController']>['compilersFactory']>['buildValidator'] = (
  externalSchemas,
) => {
  const strict = addFormats(new Ajv({ ...BASE, coerceTypes: false }));
  const coercing = addFormats(new Ajv({ ...BASE, coerceTypes: 'array' }));
  for (const schema of Object.values(externalSchemas ?? {}) as Array<{ $id?: string }>) {
    if (schema.$id && !strict.getSchema(schema.$id)) {
      strict.addSchema(schema);
      coercing.addSchema(schema);
    }
  }
  return ({ schema, httpPart }) => (httpPart === 'body' ? strict : coercing).compile(schema as object);
};

/** preValidation for routes whose body fields are all optional: a bodyless POST means "all defaults". */
export async function bodylessAsEmptyObject(req: { body: unknown }) {
  if (req.body === undefined || req.body === null) req.body = {};
}
