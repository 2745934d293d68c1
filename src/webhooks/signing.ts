import { createHmac, randomBytes } from 'node:crypto'

// Standard Webhooks' symmetric scheme (spec/standard-webhooks.md, "Signature scheme"): the
// secret is random bytes shown as `whsec_<base64>`; a signature is `v1,` and the base64
// HMAC-SHA256 of `<webhook-id>.<webhook-timestamp>.<body>` under those bytes; the header
// holds several, space-delimited, so a rotated secret's old key can sign for a while too.

const PREFIX = 'whsec_'
/** The spec allows 24 to 64 bytes. */
const SECRET_BYTES = 32

export const newSecret = () => `${PREFIX}${randomBytes(SECRET_BYTES).toString('base64')}`

function keyOf(secret: string): Buffer {
  return Buffer.from(secret.startsWith(PREFIX) ? secret.slice(PREFIX.length) : secret, 'base64')
}

export function sign(secret: string, id: string, timestampSeconds: number, body: string): string {
  const mac = createHmac('sha256', keyOf(secret)).update(`${id}.${timestampSeconds}.${body}`).digest('base64')
  return `v1,${mac}`
}

/** The `webhook-signature` header: one signature per secret, the current one first. */
export function signatureHeader(
  secrets: string[],
  id: string,
  timestampSeconds: number,
  body: string,
): string {
  return secrets.map((secret) => sign(secret, id, timestampSeconds, body)).join(' ')
}
