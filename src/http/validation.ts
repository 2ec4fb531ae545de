import { Ajv, type Options } from 'ajv';
import addFormatsImport from 'ajv-formats';
import type { FastifyServerOptions } from 'fastify';

// ajv-formats ships CJS with a default export; under NodeNext it arrives wrapped.
const addFormats = ((addFormatsImport as unknown as { default?: typeof addFormatsImport }).default ?? addFormatsImport) as unknown as (ajv: Ajv) => Ajv;

const BASE: Options = { allErrors: true, useDefaults: true, removeAdditional: false, strict: false, allowUnionTypes: true };

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
