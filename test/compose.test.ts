import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { parse } from 'yaml'
import { configSchema, loadConfig } from '../src/config.js'

// Docker cannot run everywhere the tests do: compose.yaml is checked by reading it.

interface Service {
  build?: unknown
  image?: string
  profiles?: string[]
  command?: string | string[]
  configs?: (string | { source: string; target?: string })[]
  env_file?: string | (string | { path: string })[]
  environment?: Record<string, string | number | boolean | null> | string[]
  depends_on?: Record<string, { condition?: string }> | string[]
  healthcheck?: { test?: string | string[] }
  volumes?: string[]
}

interface Compose {
  services: Record<string, Service>
  configs?: Record<string, { content?: string }>
  volumes?: Record<string, unknown>
}

const compose = parse(readFileSync(new URL('../compose.yaml', import.meta.url), 'utf8')) as Compose

/** A service's environment as name → value, from either of compose's two spellings. */
function environment(service: Service): Record<string, string> {
  const entries = Array.isArray(service.environment)
    ? service.environment.map((entry) => {
        const at = entry.indexOf('=')
        return at === -1 ? [entry, ''] : [entry.slice(0, at), entry.slice(at + 1)]
      })
    : Object.entries(service.environment ?? {}).map(([name, value]) => [name, String(value ?? '')])
  return Object.fromEntries(entries) as Record<string, string>
}

function envFiles(service: Service): string[] {
  const files = typeof service.env_file === 'string' ? [service.env_file] : (service.env_file ?? [])
  return files.map((file) => (typeof file === 'string' ? file : file.path))
}

const parley = Object.values(compose.services).find((service) => service.build)
const [dbName, db] =
  Object.entries(compose.services).find(([, service]) => service.image?.startsWith('postgres:')) ?? []

describe('compose.yaml', () => {
  it('builds Parley from the Dockerfile beside a postgres:17 service', () => {
    expect(parley?.build).toBe('.')
    expect(db?.image).toBe('postgres:17')
  })

  it('sets only variables the config schema knows in Parley’s environment, and no JWT key', () => {
    const names = Object.keys(environment(parley!))
    expect(names.filter((name) => !(name in configSchema.shape))).toEqual([])
    expect(names.filter((name) => name.startsWith('JWT_'))).toEqual([])
  })

  it('takes the rest, the JWT secret included, from the .env file', () => {
    expect(envFiles(parley!)).toEqual(['.env'])
  })

  it('points DATABASE_URL at the compose database, with its user, password and database', () => {
    const url = new URL(environment(parley!).DATABASE_URL!)
    const postgres = environment(db!)
    expect(url.protocol).toBe('postgres:')
    expect(url.hostname).toBe(dbName)
    expect(url.port || '5432').toBe('5432')
    expect(decodeURIComponent(url.username)).toBe(postgres.POSTGRES_USER)
    expect(decodeURIComponent(url.password)).toBe(postgres.POSTGRES_PASSWORD)
    expect(url.pathname).toBe(`/${postgres.POSTGRES_DB}`)
  })

  it('is an environment Parley accepts in production once .env gives the secret', () => {
    const env = { ...environment(parley!), JWT_SECRET: 'x'.repeat(32) }
    expect(loadConfig(env)).toMatchObject({ NODE_ENV: 'production', HOST: '0.0.0.0', PORT: 3000 })
  })

  it('starts Parley once the database is healthy, and checks Parley’s readiness without curl', () => {
    expect(parley!.depends_on).toEqual({ [dbName!]: { condition: 'service_healthy' } })
    const parleyCheck = parley!.healthcheck?.test
    expect(parleyCheck?.slice(0, 3)).toEqual(['CMD', 'node', '-e'])
    expect(parleyCheck?.[3]).toContain(`'http://127.0.0.1:${environment(parley!).PORT}/readyz'`)
    expect(db!.healthcheck?.test).toEqual(['CMD-SHELL', expect.stringMatching(/^pg_isready /)])
  })

  it('keeps the database in a named volume', () => {
    const [volume] = db!.volumes ?? []
    const [name, path] = volume!.split(':')
    expect(path).toBe('/var/lib/postgresql/data')
    expect(compose.volumes).toHaveProperty(name!)
  })
})

describe('compose.yaml, the ha profile', () => {
  const service = (name: string) => compose.services[name]!
  const ha = environment(service('parley-ha'))
  const postgres = environment(db!)
  const url = (name: string) => new URL(ha[name]!)

  it('leaves PgBouncer, the replica and the second Parley out of a plain `docker compose up`', () => {
    const inProfile = Object.entries(compose.services).filter(([, s]) => s.profiles?.includes('ha'))
    expect(inProfile.map(([name]) => name)).toEqual(['pgbouncer', 'db-replica', 'parley-ha'])
    expect(Object.values(compose.services).filter((s) => !s.profiles).length).toBe(2)
  })

  it('puts PgBouncer in transaction mode in front of the database, with its user and password', () => {
    const pgbouncer = environment(service('pgbouncer'))
    expect(pgbouncer).toMatchObject({
      DB_HOST: dbName,
      DB_NAME: postgres.POSTGRES_DB,
      DB_USER: postgres.POSTGRES_USER,
      DB_PASSWORD: postgres.POSTGRES_PASSWORD,
      POOL_MODE: 'transaction',
    })
    expect(service('pgbouncer').depends_on).toEqual({ [dbName!]: { condition: 'service_healthy' } })
  })

  it('starts the replica as a copy of the database that follows it, on a volume of its own', () => {
    const script = [service('db-replica').command].flat().join(' ')
    expect(script).toContain(
      `--dbname="host=${dbName} user=${postgres.POSTGRES_USER} password=${postgres.POSTGRES_PASSWORD}"`,
    )
    expect(script).toMatch(/pg_basebackup .*--write-recovery-conf/s)
    expect(service('db-replica').image).toBe(db!.image)
    const [volume] = service('db-replica').volumes ?? []
    expect(volume).not.toBe(db!.volumes?.[0])
    expect(compose.volumes).toHaveProperty(volume!.split(':')[0]!)
    // The database lets it in for replication, from its first start.
    const [config] = db!.configs ?? []
    expect(config).toEqual({
      source: 'replication-hba',
      target: '/docker-entrypoint-initdb.d/replication-hba.sh',
    })
    expect(compose.configs?.['replication-hba']?.content).toMatch(
      /^echo 'host replication all all scram-sha-256'/,
    )
  })

  it('points the second Parley’s pools at PgBouncer, LISTEN at the database, and reads at the replica', () => {
    const credentials = (u: URL) => [
      decodeURIComponent(u.username),
      decodeURIComponent(u.password),
      u.pathname,
    ]
    const expected = [postgres.POSTGRES_USER, postgres.POSTGRES_PASSWORD, `/${postgres.POSTGRES_DB}`]
    expect({ host: url('DATABASE_URL').host, pooler: ha.DATABASE_POOLER }).toEqual({
      host: 'pgbouncer:5432',
      pooler: 'transaction',
    })
    expect(url('LISTEN_DATABASE_URL').host).toBe(`${dbName}:5432`)
    expect(url('READ_DATABASE_URL').host).toBe('db-replica:5432')
    for (const name of ['DATABASE_URL', 'LISTEN_DATABASE_URL', 'READ_DATABASE_URL'])
      expect(credentials(url(name))).toEqual(expected)
    expect(service('parley-ha').depends_on).toEqual({
      pgbouncer: { condition: 'service_healthy' },
      'db-replica': { condition: 'service_healthy' },
    })
  })

  it('is an environment Parley accepts in production, with only known variables and no JWT key', () => {
    expect(Object.keys(ha).filter((name) => !(name in configSchema.shape))).toEqual([])
    expect(Object.keys(ha).filter((name) => name.startsWith('JWT_'))).toEqual([])
    expect(envFiles(service('parley-ha'))).toEqual(['.env'])
    expect(loadConfig({ ...ha, JWT_SECRET: 'x'.repeat(32) })).toMatchObject({
      NODE_ENV: 'production',
      DATABASE_POOLER: 'transaction',
    })
  })
})
