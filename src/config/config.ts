import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { resolve } from 'node:path';

/**
 * The one place that reads the environment. Every variable is declared here with its default and
 * documented in docs/configuration.md; `loadConfig` validates all of them and reports every error at
 * once, naming the variable.
 */
export const SERVICE_NAMES = ['session', 'ingest', 'realtime'] as const;
export type ServiceName = (typeof SERVICE_NAMES)[number];

const Int = (def: number, min: number, max: number, description: string) =>
  Type.Integer({ default: def, minimum: min, maximum: max, description });

export const EnvSchema = Type.Object({
  PORT: Int(8080, 0, 65535, 'TCP port to listen on (0 = any free port).'),
  HOST: Type.String({ default: '0.0.0.0', minLength: 1, description: 'Interface to listen on.' }),
  LOG_LEVEL: Type.Union(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)), { default: 'info', description: 'Minimum log level.' }),
  DATABASE_URL: Type.Optional(Type.String({ pattern: '^(postgres|postgresql|memory)://', description: 'postgres://… for PostgreSQL, memory:// for a throwaway PGlite; unset = PGlite in STREAMPLANE_DATA_DIR.' })),
  REDIS_URL: Type.Optional(Type.String({ pattern: '^rediss?://', description: 'redis://… switches Bus, Presence and rate limits to Redis; unset = in memory.' })),
  STREAMPLANE_DATA_DIR: Type.String({ default: './.streamplane', minLength: 1, description: 'PGlite data directory (embedded mode). A missing or empty one starts as a copy of the initdb template that npm ci made under node_modules/.cache/streamplane/.' }),
  STREAMPLANE_DATABASE_SCHEMA: Type.String({ default: 'public', pattern: '^[a-z_][a-z0-9_]{0,62}$', description: 'PostgreSQL schema holding Streamplane tables.' }),
  STREAMPLANE_REDIS_PREFIX: Type.String({ default: 'streamplane:', maxLength: 64, description: 'Prefix of every Redis key and channel.' }),
  STREAMPLANE_SERVICES: Type.String({ default: 'all', description: `Comma-separated services this process runs: all, or any of ${SERVICE_NAMES.join(', ')}.` }),
  STREAMPLANE_ADMIN_KEY: Type.Optional(Type.String({ minLength: 32, maxLength: 256, description: 'An operator API key accepted in addition to stored keys (at least 32 characters). When set, no bootstrap key is created.' })),
  STREAMPLANE_GC_CONCURRENT_MARKING: Type.Union([Type.Literal('auto'), Type.Literal('on'), Type.Literal('off')], { default: 'auto', description: "V8's concurrent marking (old-generation garbage collection on a helper thread). auto = off when the process may use a single CPU (a 1-vCPU task, taskset), where the helper only competes with request handling and leaves long pauses at the end of marking; on otherwise." }),
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
  STREAMPLANE_INGEST_HOOK_BASE_URL: Type.Optional(Type.String({ pattern: '^https?://[^/?#]+(/[^?#]*)?$', description: 'Base URL media servers call back on (no query). nginx-rtmp cannot call https://. Unset = http://127.0.0.1:<PORT>.' })),
  STREAMPLANE_INGEST_HOOK_KEY: Type.Optional(Type.String({ minLength: 32, maxLength: 256, description: 'Key from which each node\'s hook secret is derived (HMAC). Unset = one is generated on first start and kept in the database.' })),
  STREAMPLANE_INGEST_NODES_FILE: Type.Optional(Type.String({ minLength: 1, description: 'JSON file of ingest nodes (an array of node registrations, each with a unique name) registered or updated at start.' })),
  STREAMPLANE_INGEST_RECONNECT_WINDOW_SECONDS: Int(60, 0, 86_400, 'Default time a session waits for its publisher to come back before it ends.'),
  STREAMPLANE_INGEST_STATS_POLL_MS: Int(1_000, 100, 60_000, 'How often each node\'s stats page is read.'),
  STREAMPLANE_INGEST_NODE_TIMEOUT_MS: Int(1_500, 50, 30_000, 'Timeout of one call to a media server (stats, control).'),
  STREAMPLANE_INGEST_NODE_DOWN_AFTER_FAILURES: Int(2, 1, 100, 'Consecutive failed calls after which a node counts as down (its circuit opens).'),
  STREAMPLANE_INGEST_STALL_MS: Int(3_000, 500, 60_000, 'A side whose received bytes have not grown for this long is stalled.'),
  STREAMPLANE_INGEST_FAILOVER_COOLDOWN_MS: Int(10_000, 0, 600_000, 'After a failover, no automatic failover for this long (hysteresis against flapping).'),
  STREAMPLANE_INGEST_PUBLISHER_TIMEOUT_MS: Int(75_000, 1_000, 3_600_000, 'A publisher not seen (no update callback, not in stats) for this long is gone. Keep it above 2 × notify_update_timeout.'),
  STREAMPLANE_INGEST_MONITOR_MS: Int(500, 50, 60_000, 'How often stream health, failover and reconnect windows are evaluated.'),
  STREAMPLANE_INGEST_BAD_KEY_LIMIT: Int(10, 1, 1_000_000, 'Refused stream keys allowed per client address per window before its publishes are throttled.'),
  STREAMPLANE_INGEST_BAD_KEY_WINDOW_SECONDS: Int(60, 1, 86_400, 'Window of STREAMPLANE_INGEST_BAD_KEY_LIMIT.'),
  STREAMPLANE_INGEST_KEY_OVERLAP_SECONDS: Int(300, 0, 2_592_000, 'Default time a rotated stream key keeps working beside the new one.'),
  STREAMPLANE_EVENT_RETENTION_SECONDS: Int(86_400, 60, 31_536_000, 'How long the operator event stream keeps events for clients that resume with Last-Event-ID.'),
  STREAMPLANE_EVENT_STREAM_POLL_MS: Int(250, 50, 10_000, 'How often an open event stream reads new events from the log.'),
  STREAMPLANE_INGEST_HOOK_BODY_LIMIT_BYTES: Int(16_384, 512, 1_048_576, 'Largest media-server callback body.'),
  STREAMPLANE_CORS_ORIGINS: Type.String({ default: '', maxLength: 8_192, description: 'Comma-separated Origins whose browser pages may call the HTTP API (players posting telemetry, validating tokens, sending heartbeats), or * for any; empty = no CORS headers (same-origin pages and servers only).' }),
  STREAMPLANE_WS_ALLOWED_ORIGINS: Type.String({ default: '', description: 'Comma-separated Origins allowed to open sockets (e.g. https://player.example.com); empty = any. Requests without an Origin (non-browser clients) are always allowed: the token, not the Origin, authenticates.' }),
  STREAMPLANE_WS_MAX_PAYLOAD_BYTES: Int(16_384, 256, 1_048_576, 'Largest WebSocket frame a client may send; a bigger one closes the socket with 1009.'),
  STREAMPLANE_WS_MAX_BUFFERED_BYTES: Int(1_048_576, 16_384, 67_108_864, 'Data queued for one slow socket beyond which it is disconnected (close 4008) instead of growing memory.'),
  STREAMPLANE_WS_PING_INTERVAL_MS: Int(25_000, 1_000, 300_000, 'WebSocket ping interval; a socket that has not answered the previous ping is dropped. Keep it under the load balancer idle timeout (ALB: 60 s).'),
  STREAMPLANE_WS_MAX_CONNECTIONS_PER_IP: Int(100, 1, 1_000_000, 'Open sockets allowed per client address on one instance.'),
  STREAMPLANE_WS_MAX_FRAMES_PER_10S: Int(100, 1, 1_000_000, 'Frames one socket may send per 10 s before it is closed as a flood (4029).'),
  STREAMPLANE_WS_AUTH_SWEEP_MS: Int(1_000, 100, 60_000, 'How often open sockets are re-checked against token expiry, revocations and bans (events usually close them sooner).'),
  STREAMPLANE_CHAT_HISTORY_SIZE: Int(50, 0, 1_000, 'Messages sent to a socket when it joins a room.'),
  STREAMPLANE_CHAT_RESUME_MAX: Int(1_000, 0, 100_000, 'Most missed events a reconnecting client may recover; a bigger gap answers recovered: false.'),
  STREAMPLANE_CHAT_MESSAGE_MAX_CHARS: Int(500, 1, 10_000, 'Longest chat message, in characters (Unicode code points).'),
  STREAMPLANE_CHAT_USER_RATE_LIMIT: Int(5, 1, 1_000_000, 'Messages one user may send per STREAMPLANE_CHAT_USER_RATE_WINDOW_MS in one room.'),
  STREAMPLANE_CHAT_USER_RATE_WINDOW_MS: Int(10_000, 100, 3_600_000, 'Window of STREAMPLANE_CHAT_USER_RATE_LIMIT.'),
  STREAMPLANE_CHAT_ROOM_RATE_LIMIT: Int(100, 1, 1_000_000, 'Messages one room accepts per STREAMPLANE_CHAT_ROOM_RATE_WINDOW_MS, all users together.'),
  STREAMPLANE_CHAT_ROOM_RATE_WINDOW_MS: Int(1_000, 100, 3_600_000, 'Window of STREAMPLANE_CHAT_ROOM_RATE_LIMIT.'),
  STREAMPLANE_CHAT_BLOCKED_TERMS: Type.String({ default: '', maxLength: 65_536, description: 'Comma-separated words and patterns refused in every room (`*` matches any run of letters; case-insensitive). Rooms add their own through the settings endpoint.' }),
  STREAMPLANE_CHAT_REVIEW_URL: Type.Optional(Type.String({ pattern: '^https?://', description: 'Review webhook that sees each message before delivery (allow, deny or rewrite). Unset = no review.' })),
  STREAMPLANE_CHAT_REVIEW_SECRET_KEY: Type.Optional(Type.String({ minLength: 16, maxLength: 256, description: 'Signs review requests (X-Streamplane-Signature: sha256=HMAC of the body).' })),
  STREAMPLANE_CHAT_REVIEW_TIMEOUT_MS: Int(200, 10, 10_000, 'Time budget of the review webhook; past it the fallback decides.'),
  STREAMPLANE_CHAT_REVIEW_FALLBACK: Type.Union([Type.Literal('allow'), Type.Literal('deny')], { default: 'allow', description: 'What happens to a message when the review webhook fails or is too slow.' }),
  STREAMPLANE_CAPTIONS_RECENT_CUES: Int(20, 0, 1_000, 'Cues sent to a socket when it joins the captions of a session.'),
  STREAMPLANE_CAPTIONS_CUE_MAX_CHARS: Int(500, 1, 10_000, 'Longest caption cue text, in characters.'),
  STREAMPLANE_TELEMETRY_MAX_BATCH_EVENTS: Int(500, 1, 100_000, 'Most events in one telemetry batch.'),
  STREAMPLANE_TELEMETRY_MAX_EVENT_BYTES: Int(4_096, 128, 1_048_576, 'Largest telemetry event (JSON-encoded).'),
  STREAMPLANE_TELEMETRY_BODY_LIMIT_BYTES: Int(1_048_576, 1_024, 67_108_864, 'Largest telemetry request body.'),
  STREAMPLANE_TELEMETRY_MAX_AGE_SECONDS: Int(86_400, 60, 31_536_000, 'Telemetry events older than this (by their ts) are refused as too late.'),
  STREAMPLANE_TELEMETRY_FLUSH_MS: Int(5_000, 100, 600_000, 'How often accepted telemetry is written and its views recomputed (metrics lag by up to this much; shorter costs more CPU per active view).'),
  STREAMPLANE_TELEMETRY_BUFFER_MAX_ENTRIES: Int(100_000, 1_000, 10_000_000, 'Telemetry entries (views and state events) held in memory awaiting a write; past it batches get 503 telemetry_backlog (about 150 bytes each).'),
  STREAMPLANE_TELEMETRY_MAX_FUTURE_MS: Int(300_000, 0, 86_400_000, 'Telemetry events dated further in the future than this are refused (clock skew allowance).'),
});
export type Env = Static<typeof EnvSchema>;

export interface Config {
  port: number;
  host: string;
  logLevel: Env['LOG_LEVEL'];
  gcConcurrentMarking: Env['STREAMPLANE_GC_CONCURRENT_MARKING'];
  database: { kind: 'pglite'; dataDir: string | null } | { kind: 'postgres'; url: string; schema: string };
  redis: { url: string; prefix: string } | null;
  services: ServiceName[];
  adminKey: string | null;
  shutdownTimeoutMs: number;
  keepAliveTimeoutMs: number;
  bodyLimitBytes: number;
  trustProxy: boolean;
  /** Origins allowed by CORS; ['*'] for any; [] for none. */
  corsOrigins: string[];
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
  ingest: IngestConfig;
  realtime: RealtimeConfig;
  version: string;
}

export interface IngestConfig {
  hookBaseUrl: string;
  hookKey: string | null;
  nodesFile: string | null;
  reconnectWindowSeconds: number;
  statsPollMs: number;
  nodeTimeoutMs: number;
  nodeDownAfterFailures: number;
  stallMs: number;
  failoverCooldownMs: number;
  publisherTimeoutMs: number;
  monitorMs: number;
  badKeyLimit: number;
  badKeyWindowSeconds: number;
  keyOverlapSeconds: number;
  hookBodyLimitBytes: number;
}

export interface RealtimeConfig {
  eventRetentionSeconds: number;
  eventStreamPollMs: number;
  sockets: {
    allowedOrigins: string[];
    maxPayloadBytes: number;
    maxBufferedBytes: number;
    pingIntervalMs: number;
    maxConnectionsPerIp: number;
    maxFramesPer10s: number;
    authSweepMs: number;
  };
  chat: {
    historySize: number;
    resumeMax: number;
    messageMaxChars: number;
    userRateLimit: number;
    userRateWindowMs: number;
    roomRateLimit: number;
    roomRateWindowMs: number;
    blockedTerms: string[];
    review: { url: string; secretKey: string | null; timeoutMs: number; fallback: 'allow' | 'deny' } | null;
  };
  captions: { recentCues: number; cueMaxChars: number };
  telemetry: { maxBatchEvents: number; maxEventBytes: number; bodyLimitBytes: number; maxAgeSeconds: number; maxFutureMs: number; flushMs: number; bufferMaxEntries: number };
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
    gcConcurrentMarking: e.STREAMPLANE_GC_CONCURRENT_MARKING,
    database,
    redis: e.REDIS_URL ? { url: e.REDIS_URL, prefix: e.STREAMPLANE_REDIS_PREFIX } : null,
    services,
    adminKey: e.STREAMPLANE_ADMIN_KEY ?? null,
    shutdownTimeoutMs: e.STREAMPLANE_SHUTDOWN_TIMEOUT_MS,
    keepAliveTimeoutMs: e.STREAMPLANE_KEEP_ALIVE_TIMEOUT_MS,
    bodyLimitBytes: e.STREAMPLANE_BODY_LIMIT_BYTES,
    trustProxy: e.STREAMPLANE_TRUST_PROXY,
    corsOrigins: list(e.STREAMPLANE_CORS_ORIGINS),
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
    ingest: {
      hookBaseUrl: (e.STREAMPLANE_INGEST_HOOK_BASE_URL ?? `http://127.0.0.1:${e.PORT}`).replace(/\/+$/, ''),
      hookKey: e.STREAMPLANE_INGEST_HOOK_KEY ?? null,
      nodesFile: e.STREAMPLANE_INGEST_NODES_FILE ? resolve(e.STREAMPLANE_INGEST_NODES_FILE) : null,
      reconnectWindowSeconds: e.STREAMPLANE_INGEST_RECONNECT_WINDOW_SECONDS,
      statsPollMs: e.STREAMPLANE_INGEST_STATS_POLL_MS,
      nodeTimeoutMs: e.STREAMPLANE_INGEST_NODE_TIMEOUT_MS,
      nodeDownAfterFailures: e.STREAMPLANE_INGEST_NODE_DOWN_AFTER_FAILURES,
      stallMs: e.STREAMPLANE_INGEST_STALL_MS,
      failoverCooldownMs: e.STREAMPLANE_INGEST_FAILOVER_COOLDOWN_MS,
      publisherTimeoutMs: e.STREAMPLANE_INGEST_PUBLISHER_TIMEOUT_MS,
      monitorMs: e.STREAMPLANE_INGEST_MONITOR_MS,
      badKeyLimit: e.STREAMPLANE_INGEST_BAD_KEY_LIMIT,
      badKeyWindowSeconds: e.STREAMPLANE_INGEST_BAD_KEY_WINDOW_SECONDS,
      keyOverlapSeconds: e.STREAMPLANE_INGEST_KEY_OVERLAP_SECONDS,
      hookBodyLimitBytes: e.STREAMPLANE_INGEST_HOOK_BODY_LIMIT_BYTES,
    },
    realtime: {
      eventRetentionSeconds: e.STREAMPLANE_EVENT_RETENTION_SECONDS,
      eventStreamPollMs: e.STREAMPLANE_EVENT_STREAM_POLL_MS,
      sockets: {
        allowedOrigins: list(e.STREAMPLANE_WS_ALLOWED_ORIGINS),
        maxPayloadBytes: e.STREAMPLANE_WS_MAX_PAYLOAD_BYTES,
        maxBufferedBytes: e.STREAMPLANE_WS_MAX_BUFFERED_BYTES,
        pingIntervalMs: e.STREAMPLANE_WS_PING_INTERVAL_MS,
        maxConnectionsPerIp: e.STREAMPLANE_WS_MAX_CONNECTIONS_PER_IP,
        maxFramesPer10s: e.STREAMPLANE_WS_MAX_FRAMES_PER_10S,
        authSweepMs: e.STREAMPLANE_WS_AUTH_SWEEP_MS,
      },
      chat: {
        historySize: e.STREAMPLANE_CHAT_HISTORY_SIZE,
        resumeMax: e.STREAMPLANE_CHAT_RESUME_MAX,
        messageMaxChars: e.STREAMPLANE_CHAT_MESSAGE_MAX_CHARS,
        userRateLimit: e.STREAMPLANE_CHAT_USER_RATE_LIMIT,
        userRateWindowMs: e.STREAMPLANE_CHAT_USER_RATE_WINDOW_MS,
        roomRateLimit: e.STREAMPLANE_CHAT_ROOM_RATE_LIMIT,
        roomRateWindowMs: e.STREAMPLANE_CHAT_ROOM_RATE_WINDOW_MS,
        blockedTerms: list(e.STREAMPLANE_CHAT_BLOCKED_TERMS),
        review: e.STREAMPLANE_CHAT_REVIEW_URL
          ? { url: e.STREAMPLANE_CHAT_REVIEW_URL, secretKey: e.STREAMPLANE_CHAT_REVIEW_SECRET_KEY ?? null, timeoutMs: e.STREAMPLANE_CHAT_REVIEW_TIMEOUT_MS, fallback: e.STREAMPLANE_CHAT_REVIEW_FALLBACK }
          : null,
      },
      captions: { recentCues: e.STREAMPLANE_CAPTIONS_RECENT_CUES, cueMaxChars: e.STREAMPLANE_CAPTIONS_CUE_MAX_CHARS },
      telemetry: {
        maxBatchEvents: e.STREAMPLANE_TELEMETRY_MAX_BATCH_EVENTS,
        maxEventBytes: e.STREAMPLANE_TELEMETRY_MAX_EVENT_BYTES,
        bodyLimitBytes: e.STREAMPLANE_TELEMETRY_BODY_LIMIT_BYTES,
        maxAgeSeconds: e.STREAMPLANE_TELEMETRY_MAX_AGE_SECONDS,
        maxFutureMs: e.STREAMPLANE_TELEMETRY_MAX_FUTURE_MS,
        flushMs: e.STREAMPLANE_TELEMETRY_FLUSH_MS,
        bufferMaxEntries: e.STREAMPLANE_TELEMETRY_BUFFER_MAX_ENTRIES,
      },
    },
    version,
  };
}

const list = (v: string) => v.split(',').map((x) => x.trim()).filter((x) => x.length > 0);

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
