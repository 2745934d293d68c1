import { readFileSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { describe, expect, it } from 'vitest'
import { ConfigError, configSchema, loadConfig } from '../src/config.js'

const SECRET = 'a-production-secret-of-at-least-32-chars'
const DATABASE_URL = 'postgres://parley:parley@db.internal:5432/parley'

/** The error `loadConfig(env)` throws; fails the test if it returns instead. */
function configError(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env)
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError)
    return error as ConfigError
  }
  throw new Error(`loadConfig accepted ${JSON.stringify(env)}`)
}

describe('loadConfig', () => {
  it('gives every variable its default in an empty environment', () => {
    expect(loadConfig({})).toEqual({
      NODE_ENV: 'development',
      PORT: 3000,
      HOST: '127.0.0.1',
      DATABASE_URL: undefined,
      LISTEN_DATABASE_URL: undefined,
      DATABASE_POOLER: 'none',
      READ_DATABASE_URL: undefined,
      READ_MAX_LAG_MS: 2_000,
      CATALOG_DATABASE_URL: undefined,
      DATA_DIR: '.data',
      MIGRATE_ON_START: true,
      DB_POOL_MAX: 10,
      JWT_SECRET: undefined,
      JWT_PUBLIC_KEY: undefined,
      JWT_JWKS_URL: undefined,
      JWT_ISSUER: undefined,
      JWT_AUDIENCE: undefined,
      JWT_ROLES_CLAIM: 'roles',
      JWT_ADMIN_ROLE: 'admin',
      JWT_CLOCK_TOLERANCE_S: 5,
      DEV_SIGNIN: false,
      HEARTBEAT_MS: 15_000,
      SSE_RETRY_MS: 2_000,
      LISTENER_PROBE_MS: 5_000,
      LISTEN_BACKLOG: 4_096,
      MAX_STREAMS: 10_000,
      MAX_STREAMS_PER_USER: 20,
      STREAM_BUFFER_BYTES: 1_048_576,
      RATE_LIMIT_MESSAGES: 20,
      RATE_LIMIT_WINDOW_MS: 10_000,
      RATE_LIMIT_CHANGES: 60,
      RATE_LIMIT_SEARCHES: 30,
      RATE_LIMIT_MEMBERSHIPS: 100,
      RATE_LIMIT_TICKETS: 60,
      RATE_LIMIT_REPORTS: 10,
      RATE_LIMIT_MODERATION: 60,
      REACTIONS_PER_MESSAGE: 20,
      REACTIONS_PER_USER_PER_MESSAGE: 5,
      SEARCH_CONFIG: 'simple',
      SEARCH_POOL_MAX: 2,
      SEARCH_QUEUE_MAX: 16,
      MAX_SEARCHES_PER_USER: 2,
      SEARCH_TIMEOUT_MS: 2_000,
      RETENTION_MS: 2_592_000_000,
      RETENTION_SWEEP_MS: 60_000,
      POST_BATCH_MAX: 100,
      POST_BATCH_MS: 0,
      ROOMS_PER_HOUR: 50,
      PRESENCE_TTL_MS: 20_000,
      PRESENCE_BATCH_MS: 500,
      PRESENCE_LIST_MAX: 100,
      TYPING_THROTTLE_MS: 2_000,
      SHUTDOWN_TIMEOUT_MS: 10_000,
      METRICS_TOKEN: undefined,
      WEBHOOKS_PER_USER: 10,
      WEBHOOKS_PER_HOUR: 20,
      WEBHOOK_ALLOW_PRIVATE: false,
      WEBHOOK_TIMEOUT_MS: 10_000,
      WEBHOOK_CONCURRENCY: 16,
      WEBHOOK_POLL_MS: 1_000,
      WEBHOOK_RETRY_BASE_MS: 5_000,
      WEBHOOK_RETRY_MAX_MS: 3_600_000,
      WEBHOOK_DISABLE_AFTER_MS: 86_400_000,
      WEBHOOK_ROTATION_GRACE_MS: 86_400_000,
      WEBHOOK_MAX_PAYLOAD_BYTES: 65_536,
      WEBHOOK_LOG_RETENTION_MS: 604_800_000,
      LOG_LEVEL: 'info',
      LOG_FORMAT: 'auto',
    })
  })

  it('parses numbers and booleans from their text', () => {
    const config = loadConfig({ PORT: '8080', HEARTBEAT_MS: '250', MIGRATE_ON_START: 'no' })
    expect(config).toMatchObject({ PORT: 8080, HEARTBEAT_MS: 250, MIGRATE_ON_START: false })
  })

  it('treats a blank optional variable as unset', () => {
    const config = loadConfig({ DATABASE_URL: '', JWT_SECRET: '   ', JWT_ISSUER: '' })
    expect(config).toMatchObject({ DATABASE_URL: undefined, JWT_SECRET: undefined, JWT_ISSUER: undefined })
  })

  it.each([
    ['PORT', 'abc'],
    ['PORT', '70000'],
    ['HEARTBEAT_MS', '-1'],
    ['SSE_RETRY_MS', '1.5'],
    ['MIGRATE_ON_START', 'maybe'],
    ['NODE_ENV', 'staging'],
    ['LOG_LEVEL', 'loud'],
    ['LOG_FORMAT', 'yaml'],
    ['DATABASE_URL', 'mysql://db.internal/parley'],
    ['JWT_JWKS_URL', 'not a url'],
  ])('rejects %s=%j with a message naming the variable', (name, value) => {
    expect(configError({ [name]: value }).message).toContain(`${name}:`)
  })

  it.each(['PORT', 'JWT_CLOCK_TOLERANCE_S', 'SSE_RETRY_MS'])(
    'rejects an empty %s instead of reading it as 0',
    (name) => {
      expect(configError({ [name]: '' }).message).toBe(`Invalid configuration: ${name}: must be an integer`)
    },
  )

  it('names every bad variable in one message', () => {
    const { message } = configError({ PORT: 'abc', HEARTBEAT_MS: '-1' })
    expect(message).toContain('PORT:')
    expect(message).toContain('HEARTBEAT_MS:')
  })

  it('rejects a JWT_SECRET shorter than 32 characters', () => {
    const { message } = configError({ JWT_SECRET: 'x'.repeat(31) })
    expect(message).toContain('JWT_SECRET: must be at least 32 characters')
  })

  it('accepts a JWT_SECRET of exactly 32 characters', () => {
    expect(loadConfig({ JWT_SECRET: 'x'.repeat(32) }).JWT_SECRET).toBe('x'.repeat(32))
  })

  it.each([
    ['JWT_SECRET and JWT_PUBLIC_KEY', { JWT_SECRET: SECRET, JWT_PUBLIC_KEY: 'pem' }],
    ['JWT_SECRET and JWT_JWKS_URL', { JWT_SECRET: SECRET, JWT_JWKS_URL: 'https://issuer.test/jwks' }],
    ['JWT_PUBLIC_KEY and JWT_JWKS_URL', { JWT_PUBLIC_KEY: 'pem', JWT_JWKS_URL: 'https://issuer.test/jwks' }],
  ])('rejects both %s', (_pair, env) => {
    expect(configError(env).message).toBe(
      'Invalid configuration: set only one of JWT_SECRET, JWT_PUBLIC_KEY, JWT_JWKS_URL',
    )
  })

  it('refuses production without a JWT key', () => {
    const { message } = configError({ NODE_ENV: 'production', DATABASE_URL })
    expect(message).toMatch(/JWT_SECRET, JWT_PUBLIC_KEY or JWT_JWKS_URL/)
  })

  it('accepts standbys in READ_DATABASE_URL, and refuses them without DATABASE_URL', () => {
    const READ_DATABASE_URL = 'postgres://parley@replica1:5432,replica2:5432/parley'
    expect(loadConfig({ DATABASE_URL, READ_DATABASE_URL })).toMatchObject({ READ_DATABASE_URL })
    expect(configError({ READ_DATABASE_URL }).message).toBe(
      'Invalid configuration: READ_DATABASE_URL needs DATABASE_URL, whose standbys it names',
    )
  })

  it('refuses production with a JWT key but without DATABASE_URL', () => {
    const { message } = configError({ NODE_ENV: 'production', JWT_SECRET: SECRET })
    expect(message).toContain('DATABASE_URL')
  })

  it.each([
    ['JWT_SECRET', { JWT_SECRET: SECRET }],
    [
      'JWT_JWKS_URL (with its issuer and audience)',
      {
        JWT_JWKS_URL: 'https://issuer.test/.well-known/jwks.json',
        JWT_ISSUER: 'https://issuer.test/',
        JWT_AUDIENCE: 'parley',
      },
    ],
  ])('starts in production with %s and DATABASE_URL', (_name, key) => {
    const config = loadConfig({ NODE_ENV: 'production', DATABASE_URL, ...key })
    expect(config).toMatchObject({ NODE_ENV: 'production', DATABASE_URL, ...key })
  })
})

/** The `# NAME=value` lines of .env.example, in order; its other comments explain them. */
function exampleSettings(text: string): [string, string][] {
  return text.split(/\r?\n/).flatMap((line) => {
    const match = /^# ?([A-Z][A-Z0-9_]*)=(.*)$/.exec(line)
    return match ? [[match[1]!, match[2]!] as [string, string]] : []
  })
}

describe('.env.example', () => {
  it('lists every variable of the config schema once, and nothing else', async () => {
    const text = await readFile(new URL('../.env.example', import.meta.url), 'utf8')
    const names = exampleSettings(text).map(([name]) => name)
    expect(names.length, 'a variable is listed twice').toBe(new Set(names).size)
    expect([...names].sort()).toEqual(Object.keys(configSchema.shape).sort())
  })

  it.each(exampleSettings(readFileSync(new URL('../.env.example', import.meta.url), 'utf8')))(
    'gives %s its default value (%j), so uncommenting it changes nothing',
    (name, value) => {
      expect(loadConfig({ [name]: value })).toEqual(loadConfig({}))
    },
  )
})
