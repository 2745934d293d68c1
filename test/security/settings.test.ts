import { describe, expect, it } from 'vitest'
import { ConfigError, loadConfig } from '../../src/config.js'
import { createAuth } from '../../src/auth/jwt.js'
import { useTestServer } from '../support/fixtures.js'
import { startParleyProcess } from '../support/process.js'
import { TEST_SECRET } from '../support/server.js'

function refusal(env: Record<string, string>): string {
  try {
    loadConfig(env)
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError)
    return (error as Error).message
  }
  throw new Error(`loadConfig accepted ${JSON.stringify(env)}`)
}

const ISSUER = 'https://id.example.test/'
const AUDIENCE = 'parley'

describe('the token scope settings', () => {
  it('refuse JWT_JWKS_URL without JWT_ISSUER and JWT_AUDIENCE, saying why', () => {
    const url = 'https://id.example.test/jwks.json'
    for (const env of <Record<string, string>[]>[
      { JWT_JWKS_URL: url },
      { JWT_JWKS_URL: url, JWT_ISSUER: ISSUER },
      { JWT_JWKS_URL: url, JWT_AUDIENCE: AUDIENCE },
    ]) {
      expect(refusal(env)).toMatch(/JWT_JWKS_URL needs JWT_ISSUER and JWT_AUDIENCE.*other applications/)
    }
    expect(loadConfig({ JWT_JWKS_URL: url, JWT_ISSUER: ISSUER, JWT_AUDIENCE: AUDIENCE })).toMatchObject({
      JWT_JWKS_URL: url,
    })
  })

  it('refuse a JWKS over plain http except on loopback', () => {
    const scope = { JWT_ISSUER: ISSUER, JWT_AUDIENCE: AUDIENCE }
    expect(refusal({ ...scope, JWT_JWKS_URL: 'http://id.example.test/jwks.json' })).toMatch(/must be https:/)
    expect(refusal({ ...scope, JWT_JWKS_URL: 'http://10.0.0.7/jwks.json' })).toMatch(/must be https:/)
    for (const host of ['127.0.0.1:8080', 'localhost', '[::1]:9000']) {
      expect(loadConfig({ ...scope, JWT_JWKS_URL: `http://${host}/jwks.json` }).JWT_JWKS_URL).toBeDefined()
    }
  })

  it('refuse JWT_PUBLIC_KEY without JWT_AUDIENCE', () => {
    expect(refusal({ JWT_PUBLIC_KEY: 'pem' })).toMatch(/JWT_PUBLIC_KEY needs JWT_AUDIENCE/)
    expect(loadConfig({ JWT_PUBLIC_KEY: 'pem', JWT_AUDIENCE: AUDIENCE }).JWT_AUDIENCE).toBe(AUDIENCE)
  })
})

describe('the default interface', () => {
  it('is loopback outside production and every interface in production', () => {
    expect(loadConfig({}).HOST).toBe('127.0.0.1')
    expect(
      loadConfig({ NODE_ENV: 'production', JWT_SECRET: TEST_SECRET, DATABASE_URL: 'postgres://db/parley' })
        .HOST,
    ).toBe('0.0.0.0')
    expect(loadConfig({ HOST: '0.0.0.0' }).HOST).toBe('0.0.0.0')
  })

  it('refuses DEV_SIGNIN in production', () => {
    const env = { NODE_ENV: 'production', JWT_SECRET: TEST_SECRET, DATABASE_URL: 'postgres://db/parley' }
    expect(refusal({ ...env, DEV_SIGNIN: 'true' })).toMatch(/DEV_SIGNIN/)
  })
})

describe('development sign-in', () => {
  const { database, startServer } = useTestServer({ instances: 0 })

  async function signIn(env: Record<string, string>) {
    const auth = createAuth({ key: { kind: 'secret', secret: TEST_SECRET } })
    const server = await startServer(env, auth)
    return server.request('/dev/token', { method: 'POST', body: JSON.stringify({ name: 'Owner' }), as: null })
  }

  it('does not exist in development when a real JWT_SECRET is set', async () => {
    expect((await signIn({ JWT_SECRET: TEST_SECRET })).status).toBe(404)
  })

  it('exists with Parley’s own secret, or when DEV_SIGNIN asks for it', async () => {
    expect((await signIn({})).status).toBe(200)
    expect((await signIn({ JWT_SECRET: TEST_SECRET, DEV_SIGNIN: 'true' })).status).toBe(200)
  })

  it('prints no demo token at start-up with a real secret, and says how to listen on every interface', async () => {
    const instance = await startParleyProcess(database.url, {
      NODE_ENV: 'development',
      MIGRATE_ON_START: 'false',
    })
    try {
      await expect.poll(() => instance.stdout(), { timeout: 10_000 }).toContain('Listening on 127.0.0.1 only')
      expect(instance.stdout()).toContain('set HOST=0.0.0.0')
      expect(instance.stdout()).not.toContain('export TOKEN=')
    } finally {
      instance.child.kill('SIGTERM')
      await instance.exited
    }
  })
})
