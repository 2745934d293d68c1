import { z } from 'zod'
import { isDatabaseUrl } from './db/url.js'

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((value) => value === 'true' || value === '1' || value === 'yes')

// Digits only: Number('') is 0, so an empty `PORT=` would otherwise bind a random port.
const int = (min: number, max: number) =>
  z
    .string()
    .trim()
    .regex(/^-?[0-9]+$/, 'must be an integer')
    .transform(Number)
    .pipe(z.number().int().min(min).max(max))

const optionalText = z
  .string()
  .optional()
  .transform((value) => (value?.trim() ? value : undefined))

/**
 * Every environment variable Parley reads, with its default and meaning.
 * The README's configuration table is checked against this object by a test.
 */
export const configSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  PORT: int(0, 65535).default(3000),
  // Resolved by resolveConfig: 127.0.0.1 outside production, 0.0.0.0 in production.
  HOST: z.string().min(1).optional(),
  // One host or several (`postgres://h1:5432,h2:5432/parley`): Parley then uses the primary among them.
  DATABASE_URL: optionalText.pipe(z.string().refine(isDatabaseUrl, 'Invalid URL').optional()),
  // PostgreSQL itself, for the LISTEN connection and migrations, when DATABASE_URL is a
  // pooler's: both need a session of their own. Default: DATABASE_URL.
  LISTEN_DATABASE_URL: optionalText.pipe(z.string().refine(isDatabaseUrl, 'Invalid URL').optional()),
  // `transaction` when DATABASE_URL goes through a transaction-mode pooler such as PgBouncer.
  DATABASE_POOLER: z.enum(['none', 'transaction']).default('none'),
  // Streaming standbys (one host or several) for the reads that tolerate a little lag:
  // history, reactions, the lobby, mentions and search (src/db/read-pool.ts).
  READ_DATABASE_URL: optionalText.pipe(z.string().refine(isDatabaseUrl, 'Invalid URL').optional()),
  // Reads that carry no position use a standby only while it has replayed everything the
  // primary had written this long ago.
  READ_MAX_LAG_MS: int(100, 3_600_000).default(2_000),
  // The sharding catalog (docs/sharding.md): which of several primaries holds each room.
  // Read by `npm run shards` and `npm run db:migrate`.
  CATALOG_DATABASE_URL: optionalText.pipe(z.string().refine(isDatabaseUrl, 'Invalid URL').optional()),
  DATA_DIR: z.string().min(1).default('.data'),
  MIGRATE_ON_START: bool.default(true),
  DB_POOL_MAX: int(1, 1000).default(10),
  JWT_SECRET: optionalText.pipe(z.string().min(32, 'must be at least 32 characters').optional()),
  JWT_PUBLIC_KEY: optionalText,
  JWT_JWKS_URL: optionalText.pipe(z.url().optional()),
  JWT_ISSUER: optionalText,
  JWT_AUDIENCE: optionalText,
  JWT_ROLES_CLAIM: z.string().min(1).default('roles'),
  JWT_ADMIN_ROLE: z.string().min(1).default('admin'),
  JWT_CLOCK_TOLERANCE_S: int(0, 300).default(5),
  DEV_SIGNIN: bool.default(false),
  HEARTBEAT_MS: int(100, 3_600_000).default(15_000),
  SSE_RETRY_MS: int(0, 3_600_000).default(2_000),
  LISTENER_PROBE_MS: int(100, 600_000).default(5_000),
  LISTEN_BACKLOG: int(1, 65_535).default(4_096),
  MAX_STREAMS: int(1, 1_000_000).default(10_000),
  MAX_STREAMS_PER_USER: int(1, 100_000).default(20),
  STREAM_BUFFER_BYTES: int(1024, 1024 * 1024 * 1024).default(1024 * 1024),
  RATE_LIMIT_MESSAGES: int(0, 1_000_000).default(20),
  RATE_LIMIT_WINDOW_MS: int(100, 86_400_000).default(10_000),
  RATE_LIMIT_CHANGES: int(0, 1_000_000).default(60),
  RATE_LIMIT_SEARCHES: int(0, 1_000_000).default(30),
  RATE_LIMIT_MEMBERSHIPS: int(0, 1_000_000).default(100),
  RATE_LIMIT_TICKETS: int(0, 1_000_000).default(60),
  RATE_LIMIT_REPORTS: int(0, 1_000_000).default(10),
  RATE_LIMIT_MODERATION: int(0, 1_000_000).default(60),
  // Enforced by the reaction trigger (src/db/settings.ts writes them to the database at start).
  REACTIONS_PER_MESSAGE: int(1, 10_000).default(20),
  REACTIONS_PER_USER_PER_MESSAGE: int(1, 10_000).default(5),
  // A name of pg_ts_config (checked against the database at start), not schema-qualified.
  SEARCH_CONFIG: z
    .string()
    .trim()
    .regex(/^[a-z_][a-z0-9_]{0,62}$/, 'must be the name of a text search configuration, such as simple')
    .default('simple'),
  // Search has its own pool, so searches never hold the connections the rest of the API needs.
  SEARCH_POOL_MAX: int(1, 100).default(2),
  SEARCH_QUEUE_MAX: int(0, 10_000).default(16),
  MAX_SEARCHES_PER_USER: int(1, 100).default(2),
  SEARCH_TIMEOUT_MS: int(10, 600_000).default(2_000),
  // How long changes (edits, deletes, reactions) and user events are kept for resuming
  // streams, and mentions for counts; a stream resuming from before it is told to reload.
  RETENTION_MS: int(1_000, 3_650 * 86_400_000).default(30 * 86_400_000),
  RETENTION_SWEEP_MS: int(100, 86_400_000).default(60_000),
  POST_BATCH_MAX: int(1, 1_000).default(100),
  POST_BATCH_MS: int(0, 1_000).default(0),
  ROOMS_PER_HOUR: int(0, 1_000_000).default(50),
  PRESENCE_TTL_MS: int(1_000, 600_000).default(20_000),
  PRESENCE_BATCH_MS: int(10, 10_000).default(500),
  PRESENCE_LIST_MAX: int(0, 10_000).default(100),
  TYPING_THROTTLE_MS: int(0, 60_000).default(2_000),
  SHUTDOWN_TIMEOUT_MS: int(0, 600_000).default(10_000),
  METRICS_TOKEN: optionalText.pipe(z.string().min(16, 'must be at least 16 characters').optional()),
  // Webhooks (docs/webhooks.md): how many endpoints one user may own, and create per hour.
  WEBHOOKS_PER_USER: int(0, 10_000).default(10),
  WEBHOOKS_PER_HOUR: int(0, 1_000_000).default(20),
  // Endpoints on loopback, private, link-local or metadata addresses are refused unless this is set.
  WEBHOOK_ALLOW_PRIVATE: bool.default(false),
  WEBHOOK_TIMEOUT_MS: int(100, 120_000).default(10_000),
  WEBHOOK_CONCURRENCY: int(1, 1_000).default(16),
  WEBHOOK_POLL_MS: int(10, 600_000).default(1_000),
  WEBHOOK_RETRY_BASE_MS: int(10, 86_400_000).default(5_000),
  WEBHOOK_RETRY_MAX_MS: int(10, 86_400_000).default(3_600_000),
  WEBHOOK_DISABLE_AFTER_MS: int(1_000, 30 * 86_400_000).default(86_400_000),
  WEBHOOK_ROTATION_GRACE_MS: int(0, 30 * 86_400_000).default(86_400_000),
  WEBHOOK_MAX_PAYLOAD_BYTES: int(1_024, 10 * 1024 * 1024).default(65_536),
  WEBHOOK_LOG_RETENTION_MS: int(1_000, 3_650 * 86_400_000).default(7 * 86_400_000),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  LOG_FORMAT: z.enum(['auto', 'pretty', 'json']).default('auto'),
})

export type Config = z.infer<typeof configSchema> & { HOST: string }

export class ConfigError extends Error {}

type Env = Record<string, string | undefined>

/** The schema's values plus the defaults that depend on other settings; throws zod's error. */
export function resolveConfig(env: Env): Config {
  const parsed = configSchema.parse(env)
  return { ...parsed, HOST: parsed.HOST ?? (parsed.NODE_ENV === 'production' ? '0.0.0.0' : '127.0.0.1') }
}

/** Whether no JWT key was given, so Parley signs with a secret it generated itself. */
type KeySettings = Pick<Config, 'JWT_SECRET' | 'JWT_PUBLIC_KEY' | 'JWT_JWKS_URL'>
export type DevSignInSettings = KeySettings & Pick<Config, 'NODE_ENV' | 'DEV_SIGNIN'>

export const usesOwnSecret = (config: KeySettings) =>
  !config.JWT_SECRET && !config.JWT_PUBLIC_KEY && !config.JWT_JWKS_URL

/**
 * POST /dev/token lets anyone who reaches it act as anyone. It exists only outside
 * production, and only with Parley's own generated secret or when DEV_SIGNIN asks for it:
 * never just because a real JWT_SECRET happens to be set in development.
 */
export const devSignInEnabled = (config: DevSignInSettings) =>
  config.NODE_ENV !== 'production' && (config.DEV_SIGNIN || usesOwnSecret(config))

const LOOPBACK_HOSTS = /^(localhost|127(\.[0-9]{1,3}){3}|\[::1\])$/

/** Parses the environment once; the message names every bad variable. */
export function loadConfig(env: Env = process.env): Config {
  const result = configSchema.safeParse(env)
  if (!result.success) {
    const problems = result.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`)
    throw new ConfigError(`Invalid configuration: ${problems.join('; ')}`)
  }
  const config = resolveConfig(env)
  const keys = [config.JWT_SECRET, config.JWT_PUBLIC_KEY, config.JWT_JWKS_URL].filter(Boolean)
  if (keys.length > 1) {
    throw new ConfigError('Invalid configuration: set only one of JWT_SECRET, JWT_PUBLIC_KEY, JWT_JWKS_URL')
  }
  checkTokenScope(config)
  checkPooler(config)
  if (config.NODE_ENV === 'production') {
    if (config.DEV_SIGNIN) {
      throw new ConfigError('Refusing to start in production with DEV_SIGNIN: it lets anyone act as anyone')
    }
    if (keys.length === 0) {
      throw new ConfigError(
        'Refusing to start in production without JWT_SECRET, JWT_PUBLIC_KEY or JWT_JWKS_URL',
      )
    }
    if (!config.DATABASE_URL) {
      throw new ConfigError('Refusing to start in production without DATABASE_URL')
    }
  }
  return config
}

/** Refused before connecting: LISTEN through a transaction-mode pooler would hear nothing. */
function checkPooler(config: Config): void {
  if (config.LISTEN_DATABASE_URL && !config.DATABASE_URL) {
    throw new ConfigError('Invalid configuration: LISTEN_DATABASE_URL needs DATABASE_URL')
  }
  if (config.READ_DATABASE_URL && !config.DATABASE_URL) {
    throw new ConfigError(
      'Invalid configuration: READ_DATABASE_URL needs DATABASE_URL, whose standbys it names',
    )
  }
  if (config.DATABASE_POOLER === 'transaction' && !config.LISTEN_DATABASE_URL) {
    throw new ConfigError(
      'Refusing to start: DATABASE_POOLER=transaction needs LISTEN_DATABASE_URL, a direct address of PostgreSQL for the LISTEN connection, which a transaction-mode pooler cannot carry',
    )
  }
}

/**
 * An identity provider signs tokens for many applications with the keys of one JWKS, and a
 * public key is often shared the same way: without an audience (and, for a JWKS, an
 * issuer) Parley would accept a token issued for another application, roles included.
 */
function checkTokenScope(config: Config): void {
  if (config.JWT_JWKS_URL) {
    if (!config.JWT_ISSUER || !config.JWT_AUDIENCE) {
      throw new ConfigError(
        'Refusing to start: JWT_JWKS_URL needs JWT_ISSUER and JWT_AUDIENCE, or tokens issued for other applications by the same identity provider would be accepted',
      )
    }
    const url = new URL(config.JWT_JWKS_URL)
    if (url.protocol !== 'https:' && !(url.protocol === 'http:' && LOOPBACK_HOSTS.test(url.hostname))) {
      throw new ConfigError(
        'Refusing to start: JWT_JWKS_URL must be https: (plain http: only on loopback), or anyone on the path could swap the keys',
      )
    }
  }
  if (config.JWT_PUBLIC_KEY && !config.JWT_AUDIENCE) {
    throw new ConfigError(
      'Refusing to start: JWT_PUBLIC_KEY needs JWT_AUDIENCE, or tokens the same key signed for other applications would be accepted',
    )
  }
}
