/**
 * The `streamplane` CLI's settings, kept apart from config.ts so that every CLI run does not load the
 * server's schema machinery (TypeBox) just to read two variables.
 */
export interface CliConfig {
  url: string;
  apiKey: string | null;
}
export function loadCliConfig(env: Record<string, string | undefined> = process.env): CliConfig {
  const port = env.PORT && /^\d+$/.test(env.PORT) ? env.PORT : '8080';
  return {
    url: env.STREAMPLANE_URL || `http://127.0.0.1:${port}`,
    apiKey: env.STREAMPLANE_API_KEY || env.STREAMPLANE_ADMIN_KEY || null,
  };
}
