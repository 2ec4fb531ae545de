import { expect } from 'vitest';

/** What `app.inject()` answers, as the problem assertions read it. */
export interface Res {
  statusCode: number;
  headers: Record<string, unknown>;
  body: string;
  json(): any;
}

/**
 * Asserts an RFC 9457 problem document: the status (one of), the content type, the members every
 * problem has, optionally its `code` and the field a validation error names. Returns the document.
 */
export function expectProblem(res: Res, status: number | number[], code?: string, field?: string) {
  const statuses = Array.isArray(status) ? status : [status];
  const context = `${res.statusCode} ${res.body.slice(0, 600)}`;
  expect(statuses, context).toContain(res.statusCode);
  expect(String(res.headers['content-type']), context).toMatch(/^application\/problem\+json/);
  const p = res.json();
  expect(p, context).toMatchObject({ type: expect.any(String), title: expect.any(String), status: res.statusCode, code: expect.any(String), detail: expect.any(String) });
  expect(p.type, context).toMatch(new RegExp(`/${p.code}$`));
  expect(p.detail.length, context).toBeGreaterThan(0);
  if (code) expect(p.code, context).toBe(code);
  if (field) {
    expect(Array.isArray(p.errors), context).toBe(true);
    expect(p.errors.map((e: { field: string }) => e.field), context).toContain(field);
    for (const e of p.errors) expect(e, context).toMatchObject({ field: expect.any(String), message: expect.any(String) });
  }
  return p;
}
