import { createPublicKey, type KeyObject, randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createRemoteJWKSet, errors, type JWTVerifyGetKey, jwtVerify, SignJWT } from 'jose'
import type { Config } from '../config.js'
import { displayName } from '../text.js'
import { createTokenCache } from './token-cache.js'

export interface Identity {
  userId: string
  userName: string
  /** When the token stops being valid, in epoch milliseconds. */
  expiresAt: number
  /** The token's roles claim includes the admin role: may read and manage every room. */
  isAdmin: boolean
  /** The token says its holder is a bot (`"bot": true`): its messages say so. */
  isBot?: boolean
}

export interface Auth {
  verifyToken(token: string): Promise<Identity>
  /** How many verified tokens are remembered now. */
  cachedTokens(): number
  /** Present only when the key is a shared secret (HS256), which can sign as well as verify. */
  signToken?: (claims: { sub: string; name?: string; bot?: boolean }, ttl?: string) => Promise<string>
}

/** A token that failed verification; `reason` is safe to show to the caller. */
export class InvalidTokenError extends Error {
  constructor(readonly reason: string) {
    super(reason)
  }
}

export type AuthKey =
  { kind: 'secret'; secret: string } | { kind: 'public-key'; pem: string } | { kind: 'jwks'; url: string }

export interface AuthOptions {
  key: AuthKey
  issuer?: string
  audience?: string
  clockToleranceS?: number
  /** Claim holding the roles (a dot path such as `realm_access.roles` works); default `roles`. */
  rolesClaim?: string
  adminRole?: string
  /** Verified tokens remembered (see token-cache.ts); 0 verifies every time. */
  cacheEntries?: number
  cacheMaxAgeMs?: number
}

/** Far above any real token, even one carrying many groups; Node lets a header reach 16 KB. */
const MAX_TOKEN_LENGTH = 8192
const BASE64URL_SEGMENT = /^[A-Za-z0-9_-]+$/

/**
 * The one spelling of a compact JWS an encoder produces. jose's decoder also reads
 * whitespace, `=` padding and a last character with other unused low bits as the same
 * bytes, so without this check one token could be sent in endless spellings, each a new
 * cache entry that evicts a real user's.
 */
function isCanonicalToken(token: string): boolean {
  if (token.length > MAX_TOKEN_LENGTH) return false
  const segments = token.split('.')
  return (
    segments.length === 3 &&
    segments.every(
      (segment) =>
        BASE64URL_SEGMENT.test(segment) &&
        Buffer.from(segment, 'base64url').toString('base64url') === segment,
    )
  )
}

const ASYMMETRIC = {
  rsa: ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512'],
  ec: ['ES256', 'ES384', 'ES512'],
}

export function createAuth(options: AuthOptions): Auth {
  const { key, algorithms } = resolveKey(options.key)
  const verifyOptions = {
    algorithms,
    issuer: options.issuer,
    audience: options.audience,
    clockTolerance: options.clockToleranceS ?? 5,
    requiredClaims: ['exp', 'sub'],
  }

  const verified = createTokenCache({
    maxEntries: options.cacheEntries ?? 10_000,
    maxAgeMs: options.cacheMaxAgeMs ?? 60_000,
  })

  // Verifications under way, by token: requests that arrive with one token at once (a
  // client's reconnecting streams and first calls) share its one verification.
  const verifying = new Map<string, Promise<Identity>>()

  function verifyToken(token: string): Promise<Identity> {
    if (!isCanonicalToken(token)) return Promise.reject(new InvalidTokenError('The token is malformed'))
    const known = verified.get(token)
    if (known) return Promise.resolve(known)
    let pending = verifying.get(token)
    if (!pending) {
      pending = verifyWithKey(token).then(
        (identity) => {
          verifying.delete(token)
          verified.set(token, identity)
          return identity
        },
        (error: unknown) => {
          verifying.delete(token)
          throw error
        },
      )
      verifying.set(token, pending)
    }
    return pending
  }

  async function verifyWithKey(token: string): Promise<Identity> {
    try {
      const { payload } = await (typeof key === 'function'
        ? jwtVerify(token, key, verifyOptions)
        : jwtVerify(token, key, verifyOptions))
      const userId = payload.sub?.trim()
      if (!userId) throw new InvalidTokenError('The token has an empty subject')
      // Bounded: names travel in notifications, whose payload PostgreSQL caps at 8000 bytes.
      const name =
        (typeof payload.name === 'string' && displayName(payload.name, 100)) ||
        displayName(userId, 100) ||
        userId
      const roles = readRoles(payload, options.rolesClaim ?? 'roles')
      return {
        userId,
        userName: name,
        expiresAt: (payload.exp ?? 0) * 1000,
        isAdmin: roles.includes(options.adminRole ?? 'admin'),
        isBot: payload.bot === true,
      }
    } catch (error) {
      throw toInvalidToken(error)
    }
  }

  const cachedTokens = () => verified.size()
  if (options.key.kind !== 'secret') return { verifyToken, cachedTokens }
  const secret = new TextEncoder().encode(options.key.secret)
  return {
    verifyToken,
    cachedTokens,
    signToken: async (claims, ttl = '12h') => {
      const jwt = new SignJWT({ name: claims.name ?? claims.sub, ...(claims.bot ? { bot: true } : {}) })
        .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
        .setSubject(claims.sub)
        .setIssuedAt()
        .setExpirationTime(ttl)
      if (options.issuer) jwt.setIssuer(options.issuer)
      if (options.audience) jwt.setAudience(options.audience)
      return jwt.sign(secret)
    },
  }
}

function resolveKey(key: AuthKey): { key: KeyObject | JWTVerifyGetKey; algorithms: string[] } {
  switch (key.kind) {
    case 'secret': {
      // Imported once: given raw bytes, jose imports a new CryptoKey on every verification.
      const hmac = crypto.subtle.importKey(
        'raw',
        new TextEncoder().encode(key.secret),
        { name: 'HMAC', hash: 'SHA-256' },
        false,
        ['verify'],
      )
      return { key: () => hmac, algorithms: ['HS256'] }
    }
    case 'public-key': {
      const publicKey = createPublicKey(key.pem)
      const type = publicKey.asymmetricKeyType
      const algorithms =
        type === 'rsa' ? ASYMMETRIC.rsa : type === 'ec' ? ASYMMETRIC.ec : type === 'ed25519' ? ['EdDSA'] : []
      if (algorithms.length === 0) throw new Error(`JWT_PUBLIC_KEY: unsupported key type ${type}`)
      return { key: publicKey, algorithms }
    }
    case 'jwks':
      return {
        key: createRemoteJWKSet(new URL(key.url), { cacheMaxAge: 10 * 60_000, cooldownDuration: 30_000 }),
        algorithms: [...ASYMMETRIC.rsa, ...ASYMMETRIC.ec, 'EdDSA'],
      }
  }
}

/** Roles as an array of strings, or as one space-separated string like OAuth's `scope`. */
function readRoles(payload: Record<string, unknown>, claim: string): string[] {
  let value: unknown = payload
  for (const key of claim.split('.')) {
    value = typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[key] : undefined
  }
  if (typeof value === 'string') return value.split(/\s+/)
  return Array.isArray(value) ? value.filter((role): role is string => typeof role === 'string') : []
}

function toInvalidToken(error: unknown): InvalidTokenError {
  if (error instanceof InvalidTokenError) return error
  if (error instanceof errors.JWTExpired) return new InvalidTokenError('The token has expired')
  if (error instanceof errors.JWTClaimValidationFailed) {
    return new InvalidTokenError(`The token's "${error.claim}" claim is missing or not accepted`)
  }
  if (error instanceof errors.JOSEAlgNotAllowed)
    return new InvalidTokenError('The token is signed with a disallowed algorithm')
  if (error instanceof errors.JWSSignatureVerificationFailed)
    return new InvalidTokenError('The token signature is invalid')
  if (error instanceof errors.JWKSNoMatchingKey) return new InvalidTokenError('No key matches the token')
  return new InvalidTokenError('The token is malformed')
}

/** The key from the configuration, or in development a secret generated once under DATA_DIR. */
export async function resolveAuthOptions(config: Config): Promise<AuthOptions> {
  const base = {
    issuer: config.JWT_ISSUER,
    audience: config.JWT_AUDIENCE,
    clockToleranceS: config.JWT_CLOCK_TOLERANCE_S,
    rolesClaim: config.JWT_ROLES_CLAIM,
    adminRole: config.JWT_ADMIN_ROLE,
  }
  if (config.JWT_SECRET) return { ...base, key: { kind: 'secret', secret: config.JWT_SECRET } }
  if (config.JWT_PUBLIC_KEY)
    return { ...base, key: { kind: 'public-key', pem: config.JWT_PUBLIC_KEY.replace(/\\n/g, '\n') } }
  if (config.JWT_JWKS_URL) return { ...base, key: { kind: 'jwks', url: config.JWT_JWKS_URL } }
  return { ...base, key: { kind: 'secret', secret: await developmentSecret(config.DATA_DIR) } }
}

async function developmentSecret(dataDir: string): Promise<string> {
  const file = join(dataDir, 'jwt-secret')
  if (existsSync(file)) return (await readFile(file, 'utf8')).trim()
  await mkdir(dataDir, { recursive: true })
  const secret = randomBytes(32).toString('base64url')
  await writeFile(file, `${secret}\n`, { mode: 0o600 })
  return secret
}
