import { parseArgs } from 'node:util'
import { createAuth, resolveAuthOptions } from '../auth/jwt.js'
import { loadConfig } from '../config.js'
import { loadEnvFile } from '../env-file.js'

const usage = 'Usage: npm run token -- <user id> [display name] [--ttl 1h] [--bot]'

async function main(): Promise<void> {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: { ttl: { type: 'string', default: '12h' }, bot: { type: 'boolean', default: false } },
  })
  const [sub, ...nameParts] = positionals
  if (!sub) throw new Error(usage)
  // The same secret the server reads, .env included.
  loadEnvFile()
  const auth = createAuth(await resolveAuthOptions(loadConfig()))
  if (!auth.signToken) {
    throw new Error(
      'Tokens can only be signed here with JWT_SECRET; with a public key or JWKS, your identity provider signs them',
    )
  }
  const name = nameParts.join(' ') || undefined
  process.stdout.write(`${await auth.signToken({ sub, name, bot: values.bot }, values.ttl)}\n`)
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error)
  process.exit(1)
})
