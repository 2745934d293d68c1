import { asc } from 'drizzle-orm'
import type { Auth } from './auth/jwt.js'
import type { Db } from './db/client.js'
import { rooms } from './db/schema.js'

interface Welcome {
  port: number
  host: string
  databaseUrl: string
  embedded: boolean
  auth: Auth
  /** The JWT secret is the one Parley generated: only then is a demo token printed. */
  ownSecret: boolean
  db: Db
}

const LOOPBACK = /^(127\.|localhost$|::1$|\[::1\]$)/

/** What a newcomer needs after `npm start`: where it runs, a token, and commands that work as pasted. */
export async function printWelcome(welcome: Welcome): Promise<void> {
  const { port, host, databaseUrl, embedded, auth, ownSecret, db } = welcome
  const base = `http://localhost:${port}`
  const [room] = await db
    .select({ id: rooms.id, name: rooms.name })
    .from(rooms)
    .orderBy(asc(rooms.id))
    .limit(1)
  const roomId = room?.id ?? 1
  const token =
    ownSecret && auth.signToken ? await auth.signToken({ sub: 'demo', name: 'Demo User' }, '12h') : undefined
  const lines = [
    '',
    `Parley is running at ${base}`,
    `Open ${base}/ in two tabs to chat`,
    LOOPBACK.test(host)
      ? `Listening on ${host} only: set HOST=0.0.0.0 to accept connections from other machines`
      : `Listening on ${host}: every machine that can reach port ${port} can connect`,
    embedded ? `Embedded PostgreSQL: ${databaseUrl}` : `Database: ${redact(databaseUrl)}`,
    '',
  ]
  if (token) {
    lines.push(
      'A demo token (user "demo", valid 12 hours; make more with `npm run token -- <user> [name]`):',
      '',
      `  export TOKEN=${token}`,
      '',
      `Watch room ${roomId}${room ? ` (${room.name})` : ''} live:`,
      `  curl -N -H "Authorization: Bearer $TOKEN" ${base}/rooms/${roomId}/stream`,
      '',
      'Post to it from another terminal:',
      `  curl -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' -d '{"body":"hello"}' ${base}/rooms/${roomId}/messages`,
      '',
    )
  }
  lines.push(
    'Or insert a row with psql; it arrives on the stream the same way:',
    // The embedded server's credentials are local and fixed; a real DATABASE_URL is not echoed.
    `  psql "${embedded ? databaseUrl : '$DATABASE_URL'}" -c "insert into messages (room_id, user_id, user_name, body) values (${roomId}, 'ops', 'Ops', 'hello from psql')"`,
    '',
    `API reference: ${base}/openapi.json`,
    '',
  )
  process.stdout.write(`${lines.join('\n')}\n`)
}

function redact(url: string): string {
  try {
    const parsed = new URL(url)
    if (parsed.password) parsed.password = '***'
    return parsed.toString()
  } catch {
    return '(unparseable DATABASE_URL)'
  }
}
