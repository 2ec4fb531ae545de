import createClient, { type Client } from 'openapi-fetch';
import type { paths } from './api-types.js';

export type StreamplaneClient = Client<paths>;

export interface RestClientOptions {
  /** The server, e.g. `https://api.example.com` (a path prefix is kept). */
  baseUrl: string;
  /** An operator API key (server side only: never ship it to a browser) or a viewer access token. */
  token?: string;
  /** Called before each request instead of `token`: for viewer tokens the application refreshes. */
  getToken?: () => string | Promise<string>;
  /** Another fetch (tests, timeouts, retries). */
  fetch?: (request: Request) => Promise<Response>;
  headers?: Record<string, string>;
}

/**
 * A typed client of the REST API: paths, parameters, bodies and answers come from the types
 * openapi-typescript generated from the server's OpenAPI document (api-types.ts), so a call that does
 * not match the API does not compile. Answers are openapi-fetch's `{ data, error, response }`: errors
 * are the server's problem documents (`error.code`, `error.detail`), not exceptions.
 *
 *   const api = createStreamplaneClient({ baseUrl, token: apiKey });
 *   const { data, error } = await api.POST('/api/v1/sessions/start', { body: { title: 'Launch' } });
 */
export function createStreamplaneClient(opts: RestClientOptions): StreamplaneClient {
  const client = createClient<paths>({
    baseUrl: opts.baseUrl.replace(/\/+$/, ''),
    headers: { ...opts.headers, ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}) },
    ...(opts.fetch ? { fetch: opts.fetch } : {}),
  });
  const { getToken } = opts;
  if (getToken) {
    client.use({
      async onRequest({ request }) {
        request.headers.set('authorization', `Bearer ${await getToken()}`);
        return request;
      },
    });
  }
  return client;
}
