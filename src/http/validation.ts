import { Ajv, type Options } from 'ajv';
import addFormatsImport from 'ajv-formats';
import type { FastifyInstance } from 'fastify';

// ajv-formats ships CJS with a default export; under NodeNext it arrives wrapped.
const addFormats = ((addFormatsImport as unknown as { default?: typeof addFormatsImport }).default ?? addFormatsImport) as unknown as (ajv: Ajv) => Ajv;

/**
 * Two validators: bodies are checked strictly (no type coercion, unknown fields rejected instead of
 * silently stripped, which is Fastify's default), while path, query and headers arrive as strings and
 * are coerced to the schema's types.
 */
export function installValidators(app: FastifyInstance) {
  const base: Options = { allErrors: true, useDefaults: true, removeAdditional: false, strict: false, allowUnionTypes: true };
  const strict = addFormats(new Ajv({ ...base, coerceTypes: false }));
  const coercing = addFormats(new Ajv({ ...base, coerceTypes: 'array' }));
  app.setValidatorCompiler(({ schema, httpPart }) => (httpPart === 'body' ? strict : coercing).compile(schema));
}

/** preValidation for routes whose body fields are all optional: a bodyless POST means "all defaults". */
export async function bodylessAsEmptyObject(req: { body: unknown }) {
  if (req.body === undefined || req.body === null) req.body = {};
}
