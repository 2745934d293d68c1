import { z } from 'zod'

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
  HOST: z.string().min(1).default('0.0.0.0'),
  DATABASE_URL: optionalText.pipe(z.url({ protocol: /^postgres(ql)?$/ }).optional()),
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
  HEARTBEAT_MS: int(100, 3_600_000).default(15_000),
  SSE_RETRY_MS: int(0, 3_600_000).default(2_000),
  LISTENER_PROBE_MS: int(100, 600_000).default(5_000),
  MAX_STREAMS: int(1, 1_000_000).default(10_000),
  MAX_STREAMS_PER_USER: int(1, 100_000).default(20),
  STREAM_BUFFER_BYTES: int(1024, 1024 * 1024 * 1024).default(1024 * 1024),
  RATE_LIMIT_MESSAGES: int(0, 1_000_000).default(20),
  RATE_LIMIT_WINDOW_MS: int(100, 86_400_000).default(10_000),
  PRESENCE_TTL_MS: int(1_000, 600_000).default(20_000),
  TYPING_THROTTLE_MS: int(0, 60_000).default(2_000),
  SHUTDOWN_TIMEOUT_MS: int(0, 600_000).default(10_000),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
})

export type Config = z.infer<typeof configSchema>

export class ConfigError extends Error {}

/** Parses the environment once; the message names every bad variable. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const result = configSchema.safeParse(env)
  if (!result.success) {
    const problems = result.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`)
    throw new ConfigError(`Invalid configuration: ${problems.join('; ')}`)
  }
  const config = result.data
  const keys = [config.JWT_SECRET, config.JWT_PUBLIC_KEY, config.JWT_JWKS_URL].filter(Boolean)
  if (keys.length > 1) {
    throw new ConfigError('Invalid configuration: set only one of JWT_SECRET, JWT_PUBLIC_KEY, JWT_JWKS_URL')
  }
  if (config.NODE_ENV === 'production') {
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
