import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { type CryptoKey, exportJWK, exportSPKI, generateKeyPair, SignJWT } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type AuthOptions, createAuth } from '../../src/auth/jwt.js'
import { bearer, expectRooms, expectUnauthorized, getRooms } from '../support/authorization.js'
import { useTestServer } from '../support/fixtures.js'
import { signTestToken, TEST_SECRET, type TestServer } from '../support/server.js'

// Verification (src/auth/jwt.ts) with each kind of key and with issuer and audience, seen
// through a real server's answers.

const { startServer } = useTestServer({ instances: 0 })

/** A Parley instance on this file's database, verifying tokens with `options`. */
function startServerWith(options: AuthOptions): Promise<TestServer> {
  return startServer({}, createAuth(options))
}

describe('issuer and audience', () => {
  let strict: TestServer
  const signed = (claims: Record<string, unknown>) => signTestToken({ sub: 'alice', ...claims })

  beforeAll(async () => {
    strict = await startServerWith({
      key: { kind: 'secret', secret: TEST_SECRET },
      issuer: 'https://issuer.test',
      audience: 'parley',
    })
  })

  it('accepts a token with the configured iss and aud', async () => {
    const token = await signed({ iss: 'https://issuer.test', aud: 'parley' })
    await expectRooms(await getRooms(strict, bearer(token)))
  })

  it('rejects a token from another issuer', async () => {
    const token = await signed({ iss: 'https://elsewhere.test', aud: 'parley' })
    expect(await expectUnauthorized(await getRooms(strict, bearer(token)))).toBe(
      'The token\'s "iss" claim is missing or not accepted',
    )
  })

  it('rejects a token for another audience', async () => {
    const token = await signed({ iss: 'https://issuer.test', aud: 'someone-else' })
    expect(await expectUnauthorized(await getRooms(strict, bearer(token)))).toBe(
      'The token\'s "aud" claim is missing or not accepted',
    )
  })

  it('rejects a token without iss and aud', async () => {
    await expectUnauthorized(await getRooms(strict, bearer(await signed({}))))
  })
})

describe('public keys', () => {
  it('verifies an RS256 token with the configured RSA public key', async () => {
    const { publicKey, privateKey } = await generateKeyPair('RS256', { extractable: true })
    const rsa = await startServerWith({ key: { kind: 'public-key', pem: await exportSPKI(publicKey) } })
    const token = await new SignJWT({ sub: 'alice' })
      .setProtectedHeader({ alg: 'RS256' })
      .setExpirationTime('1h')
      .sign(privateKey)
    await expectRooms(await getRooms(rsa, bearer(token)))
  })

  it('verifies an ES256 token with the configured EC public key', async () => {
    const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true })
    const ec = await startServerWith({ key: { kind: 'public-key', pem: await exportSPKI(publicKey) } })
    const token = await new SignJWT({ sub: 'alice' })
      .setProtectedHeader({ alg: 'ES256' })
      .setExpirationTime('1h')
      .sign(privateKey)
    await expectRooms(await getRooms(ec, bearer(token)))
  })

  it('rejects an HS256 token whose secret is the text of the RSA public key', async () => {
    const { publicKey } = await generateKeyPair('RS256', { extractable: true })
    const pem = await exportSPKI(publicKey)
    const rsa = await startServerWith({ key: { kind: 'public-key', pem } })
    const forged = await signTestToken({ sub: 'mallory' }, '1h', pem)
    expect(await expectUnauthorized(await getRooms(rsa, bearer(forged)))).toBe(
      'The token is signed with a disallowed algorithm',
    )
  })
})

describe('JWKS', () => {
  const kid = 'parley-test-key'
  let jwksServer: Server
  let jwks: TestServer
  let privateKey: CryptoKey

  beforeAll(async () => {
    const pair = await generateKeyPair('RS256', { extractable: true })
    privateKey = pair.privateKey
    const body = JSON.stringify({ keys: [{ ...(await exportJWK(pair.publicKey)), kid, alg: 'RS256' }] })
    jwksServer = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' }).end(body)
    })
    await new Promise<void>((resolve) => jwksServer.listen(0, '127.0.0.1', resolve))
    const { port } = jwksServer.address() as AddressInfo
    jwks = await startServerWith({
      key: { kind: 'jwks', url: `http://127.0.0.1:${port}/.well-known/jwks.json` },
    })
  })

  afterAll(async () => {
    await new Promise((resolve) => jwksServer?.close(resolve))
  })

  const signRs256 = (key: CryptoKey, keyId: string) =>
    new SignJWT({ sub: 'alice' })
      .setProtectedHeader({ alg: 'RS256', kid: keyId })
      .setExpirationTime('1h')
      .sign(key)

  it('verifies a token signed with the key the JWKS publishes under its kid', async () => {
    await expectRooms(await getRooms(jwks, bearer(await signRs256(privateKey, kid))))
  })

  it('rejects a token signed with another key under the same kid', async () => {
    const other = await generateKeyPair('RS256')
    expect(
      await expectUnauthorized(await getRooms(jwks, bearer(await signRs256(other.privateKey, kid)))),
    ).toBe('The token signature is invalid')
  })

  it('rejects a token whose kid the JWKS does not publish', async () => {
    const other = await generateKeyPair('RS256')
    const token = await signRs256(other.privateKey, 'unknown-key')
    expect(await expectUnauthorized(await getRooms(jwks, bearer(token)))).toBe('No key matches the token')
  })
})
