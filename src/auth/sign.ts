import { SignJWT } from 'jose'

/**
 * Signs an HS256 JWT carrying exactly `claims`, issued now and expiring at `ttl`: a span
 * such as '1h', or an absolute time in epoch seconds. For tools that hold the shared
 * secret (the benchmark, the test harness); the server signs through `createAuth`.
 */
export function signHs256Token(
  claims: Record<string, unknown>,
  ttl: string | number,
  secret: string,
): Promise<string> {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256' })
    .setIssuedAt()
    .setExpirationTime(ttl)
    .sign(new TextEncoder().encode(secret))
}
