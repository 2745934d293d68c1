import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { parse } from 'yaml'
import { configSchema, loadConfig } from '../src/config.js'

// Docker cannot run everywhere the tests do: compose.yaml is checked by reading it.

interface Service {
  build?: unknown
  image?: string
  env_file?: string | (string | { path: string })[]
  environment?: Record<string, string | number | boolean | null> | string[]
  depends_on?: Record<string, { condition?: string }> | string[]
  healthcheck?: { test?: string | string[] }
  volumes?: string[]
}

interface Compose {
  services: Record<string, Service>
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
