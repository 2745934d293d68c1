import type { Identity } from './jwt.js'

export interface TokenCacheOptions {
  /** The most tokens remembered; past it the oldest is forgotten. */
  maxEntries: number
  /** How long a verification is trusted, however long the token lives. */
  maxAgeMs: number
}

/**
 * Tokens that passed verification, keyed by their exact text (createAuth lets only a token's
 * one canonical spelling get this far, so a token is one entry), so that the same token is not
 * verified again on every request: a client sends one token with each REST call and each
 * EventSource reconnect, and after a restart thousands of streams reconnect at once.
 * An entry never outlives the token's `exp`, and lasts at most `maxAgeMs`, so a token signed
 * by a key withdrawn from a JWKS is honoured at most that much longer than the key itself
 * (which jose keeps until it fetches the JWKS again). Failures are never remembered.
 */
export function createTokenCache({ maxEntries, maxAgeMs }: TokenCacheOptions) {
  const entries = new Map<string, { identity: Identity; until: number }>()

  return {
    get(token: string, now = Date.now()): Identity | undefined {
      const entry = entries.get(token)
      if (!entry) return undefined
      if (entry.until > now) return entry.identity
      entries.delete(token)
      return undefined
    },
    set(token: string, identity: Identity, now = Date.now()): void {
      const until = Math.min(now + maxAgeMs, identity.expiresAt)
      if (until <= now || maxEntries <= 0) return
      if (entries.size >= maxEntries && !entries.has(token)) {
        const oldest = entries.keys().next()
        if (!oldest.done) entries.delete(oldest.value)
      }
      entries.set(token, { identity: Object.freeze(identity), until })
    },
    size: () => entries.size,
  }
}
