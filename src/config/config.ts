import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { resolve } from 'node:path';

/**
 * The one place that reads the environment. Every variable is declared here with its default and
 * documented in docs/configuration.md; `loadConfig` validates all of them and reports every error at
 * once, naming the variable.
 */
export const SERVICE_NAMES = ['session'] as const;
export type ServiceName = (typeof SERVICE_NAMES)[number];

const Int = (def: number, min: number, max: number, description: string) =>
  Type.Integer({ default: def, minimum: min, maximum: max, description });

export const EnvSchema = Type.Object({
  PORT: Int(8080, 0, 65535, 'TCP port to listen on (0 = any free port).'),
  HOST: Type.String({ default: '0.0.0.0', minLength: 1, description: 'Interface to listen on.' }),
  LOG_LEVEL: Type.Union(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)), { default: 'info', description: 'Minimum log level.' }),
  DATABASE_URL: Type.Optional(Type.String({ pattern: '^(postgres|postgresql|memory)://', description: 'postgres://… for PostgreSQL, memory:// for a throwaway PGlite; unset = PGlite in STREAMPLANE_DATA_DIR.' })),
  REDIS_URL: Type.Optional(Type.String({ pattern: '^rediss?://', description: 'redis://… switches Bus, Presence and rate limits to Redis; unset = in memory.' })),
  STREAMPLANE_DATA_DIR: Type.String({ default: './.streamplane', minLength: 1, description: 'PGlite data directory (embedded mode).' }),
  STREAMPLANE_DATABASE_SCHEMA: Type.String({ default: 'public', pattern: '^[a-z_][a-z0-9_]{0,62}$', description: 'PostgreSQL schema holding Streamplane tables.' }),
  STREAMPLANE_REDIS_PREFIX: Type.String({ default: 'streamplane:', maxLength: 64, description: 'Prefix of every Redis key and channel.' }),
  STREAMPLANE_SERVICES: Type.String({ default: 'all', description: `Comma-separated services this process runs: all, or any of ${SERVICE_NAMES.join(', ')}.` }),
  STREAMPLANE_ADMIN_KEY: Type.Optional(Type.String({ minLength: 32, maxLength: 256, description: 'An operator API key accepted in addition to stored keys (at least 32 characters). When set, no bootstrap key is created.' })),
  STREAMPLANE_SHUTDOWN_TIMEOUT_MS: Int(20_000, 0, 600_000, 'On SIGTERM, time allowed to finish in-flight requests and close backends.'),
  STREAMPLANE_KEEP_ALIVE_TIMEOUT_MS: Int(65_000, 1_000, 600_000, 'HTTP keep-alive timeout; keep it above the load balancer idle timeout (ALB: 60 s).'),
  STREAMPLANE_BODY_LIMIT_BYTES: Int(65_536, 1_024, 10_485_760, 'Largest accepted request body.'),
  STREAMPLANE_TRUST_PROXY: Type.Boolean({ default: false, description: 'Trust X-Forwarded-For (set true behind a load balancer) for client addresses and per-client limits.' }),
  STREAMPLANE_TOKEN_ISSUER: Type.String({ default: 'streamplane', minLength: 1, description: '`iss` of viewer access tokens.' }),
  STREAMPLANE_TOKEN_AUDIENCE: Type.String({ default: 'streamplane:viewer', minLength: 1, description: '`aud` of viewer access tokens.' }),
  STREAMPLANE_ACCESS_TOKEN_TTL_SECONDS: Int(600, 10, 86_400, 'Default lifetime of viewer access tokens.'),
  STREAMPLANE_ACCESS_TOKEN_MAX_TTL_SECONDS: Int(86_400, 10, 604_800, 'Largest ttl_seconds a mint request may ask for.'),
  STREAMPLANE_REFRESH_TOKEN_TTL_SECONDS: Int(86_400, 60, 2_592_000, 'Lifetime of refresh tokens (each refresh issues a new one).'),
  STREAMPLANE_SIGNING_KEY_ROTATION_SECONDS: Int(86_400, 60, 31_536_000, 'Age at which the token-signing key is replaced; old keys keep verifying until their tokens expire.'),
  STREAMPLANE_TOKEN_CACHE_MAX_ENTRIES: Int(100_000, 0, 10_000_000, 'Verified tokens kept in memory (until their exp) so validation skips the signature check.'),
  STREAMPLANE_REVOCATION_SYNC_MS: Int(500, 50, 60_000, 'How often each instance re-reads revocations from the database (the Bus delivers them sooner; this repairs a lost event).'),
  STREAMPLANE_VALIDATE_RATE_LIMIT_PER_MINUTE: Int(6_000, 1, 100_000_000, 'validate-token and refresh-token calls allowed per client address per minute.'),
  STREAMPLANE_VIEWER_TTL_MS: Int(30_000, 1_000, 600_000, 'A viewer counts as watching while its latest heartbeat is younger than this.'),
  STREAMPLANE_METADATA_MAX_BYTES: Int(4_096, 0, 65_536, 'Largest session metadata object (JSON-encoded).'),
});
export type Env = Static<typeof EnvSchema>;

export interface Config {
  port: number;
  host: string;
  logLevel: Env['LOG_LEVEL'];
  database: { kind: 'pglite'; dataDir: string | null } | { kind: 'postgres'; url: string; schema: string };
  redis: { url: string; prefix: string } | null;
  services: ServiceName[];
  adminKey: string | null;
  shutdownTimeoutMs: number;
  keepAliveTimeoutMs: number;
  bodyLimitBytes: number;
  trustProxy: boolean;
  tokens: {
    issuer: string;
    audience: string;
    accessTtlSeconds: number;
    accessMaxTtlSeconds: number;
    refreshTtlSeconds: number;
    signingKeyRotationSeconds: number;
    cacheMaxEntries: number;
    revocationSyncMs: number;
    validateRatePerMinute: number;
  };
  viewers: { ttlMs: number };
  sessions: { metadataMaxBytes: number };
  version: string;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

/** The process environment, for entry points that add overrides before `loadConfig`. */
export const processEnv = (): Record<string, string | undefined> => process.env;

/** Reads and validates `env` (default: process.env). Throws ConfigError listing every problem. */
export function loadConfig(env: Record<string, string | undefined> = process.env, version = '0.0.0'): Config {
  const props = EnvSchema.properties as Record<string, TSchema>;
  const raw: Record<string, unknown> = {};
  for (const name of Object.keys(props)) {
    const v = env[name];
    if (v !== undefined && v !== '') raw[name] = v;
  }
  const withDefaults = Value.Default(EnvSchema, raw);
  const converted = Value.Convert(EnvSchema, withDefaults);
  const problems = [...Value.Errors(EnvSchema, converted)].map((e) => {
    const name = e.path.replace(/^\//, '');
    return `${name}=${shown(name, env[name])}: ${e.message}${props[name]?.description ? ` (${props[name]!.description})` : ''}`;
  });
  const e = converted as Env;
  const services = parseServices(e.STREAMPLANE_SERVICES ?? 'all', problems);
  if (problems.length > 0) throw new ConfigError(problems);

  const dbUrl = e.DATABASE_URL;
  const database: Config['database'] = !dbUrl
    ? { kind: 'pglite', dataDir: resolve(e.STREAMPLANE_DATA_DIR) }
    : dbUrl.startsWith('memory://')
      ? { kind: 'pglite', dataDir: null }
      : { kind: 'postgres', url: dbUrl, schema: e.STREAMPLANE_DATABASE_SCHEMA };
  return {
    port: e.PORT,
    host: e.HOST,
    logLevel: e.LOG_LEVEL,
    database,
    redis: e.REDIS_URL ? { url: e.REDIS_URL, prefix: e.STREAMPLANE_REDIS_PREFIX } : null,
    services,
    adminKey: e.STREAMPLANE_ADMIN_KEY ?? null,
    shutdownTimeoutMs: e.STREAMPLANE_SHUTDOWN_TIMEOUT_MS,
    keepAliveTimeoutMs: e.STREAMPLANE_KEEP_ALIVE_TIMEOUT_MS,
    bodyLimitBytes: e.STREAMPLANE_BODY_LIMIT_BYTES,
    trustProxy: e.STREAMPLANE_TRUST_PROXY,
    tokens: {
      issuer: e.STREAMPLANE_TOKEN_ISSUER,
      audience: e.STREAMPLANE_TOKEN_AUDIENCE,
      accessTtlSeconds: e.STREAMPLANE_ACCESS_TOKEN_TTL_SECONDS,
      accessMaxTtlSeconds: e.STREAMPLANE_ACCESS_TOKEN_MAX_TTL_SECONDS,
      refreshTtlSeconds: e.STREAMPLANE_REFRESH_TOKEN_TTL_SECONDS,
      signingKeyRotationSeconds: e.STREAMPLANE_SIGNING_KEY_ROTATION_SECONDS,
      cacheMaxEntries: e.STREAMPLANE_TOKEN_CACHE_MAX_ENTRIES,
      revocationSyncMs: e.STREAMPLANE_REVOCATION_SYNC_MS,
      validateRatePerMinute: e.STREAMPLANE_VALIDATE_RATE_LIMIT_PER_MINUTE,
    },
    viewers: { ttlMs: e.STREAMPLANE_VIEWER_TTL_MS },
    sessions: { metadataMaxBytes: e.STREAMPLANE_METADATA_MAX_BYTES },
    version,
  };
}

/** Never echo a secret back: keys are hidden, URL passwords masked. */
function shown(name: string, value: string | undefined): string {
  if (value === undefined) return '(unset)';
  if (name.endsWith('_KEY')) return '(hidden)';
  return JSON.stringify(value.replace(/\/\/([^:/@]*):[^@]*@/, '//$1:***@'));
}

function parseServices(value: string, problems: string[]): ServiceName[] {
  const parts = value.split(',').map((s) => s.trim()).filter(Boolean);
  if (parts.length === 0 || parts.includes('all')) return [...SERVICE_NAMES];
  const unknown = parts.filter((p) => !(SERVICE_NAMES as readonly string[]).includes(p));
  if (unknown.length > 0) {
    problems.push(`STREAMPLANE_SERVICES=${JSON.stringify(value)}: unknown service ${unknown.join(', ')} (available: ${SERVICE_NAMES.join(', ')})`);
  }
  return [...new Set(parts)] as ServiceName[];
}
