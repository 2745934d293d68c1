/**
 * What every baseline server shares: its environment, the message rows it reads and the
 * frame it sends, byte for byte the JSON shape Parley sends.
 */
import { createServer, type IncomingMessage, type RequestListener, type ServerResponse } from 'node:http'
import postgres from 'postgres'

export const MESSAGES_CHANNEL = 'parley_messages'

export interface MessageRow {
  id: string
  room_id: string
  seq: string
  user_id: string
  user_name: string
  body: string
  created_at: Date
}

export function baselineEnv(): { databaseUrl: string; port: number; host: string } {
  const databaseUrl = process.env.DATABASE_URL
  if (!databaseUrl) throw new Error('DATABASE_URL is required')
  return { databaseUrl, port: Number(process.env.PORT ?? 0), host: process.env.HOST ?? '127.0.0.1' }
}

/** A query pool. int8 columns come back as strings, which is what messageJson expects. */
export function connect(url: string, max: number, applicationName: string): postgres.Sql {
  return postgres(url, { max, onnotice: () => {}, connection: { application_name: applicationName } })
}

/** The room's messages after `afterSeq`, in order. */
export function fetchAfter(sql: postgres.Sql, roomId: number, afterSeq: number, limit = 500) {
  return sql<MessageRow[]>`
    select id, room_id, seq, user_id, user_name, body, created_at from messages
    where room_id = ${roomId} and seq > ${afterSeq} order by seq limit ${limit}`
}

/** The room's last assigned seq: where a new live stream starts. */
export async function lastSeq(sql: postgres.Sql, roomId: number): Promise<number> {
  const [row] = await sql<{ last_seq: string }[]>`select last_seq from rooms where id = ${roomId}`
  return Number(row?.last_seq ?? 0)
}

export function messageJson(row: MessageRow): string {
  return JSON.stringify({
    id: Number(row.id),
    room_id: Number(row.room_id),
    seq: Number(row.seq),
    user_id: row.user_id,
    user_name: row.user_name,
    body: row.body,
    created_at: row.created_at.toISOString(),
  })
}

export function messageFrame(row: MessageRow): string {
  return `id: ${row.seq}\nevent: message\ndata: ${messageJson(row)}\n\n`
}

/** The room id of `GET /rooms/:id/stream`, or undefined for any other request. */
export function streamRoomId(req: IncomingMessage): number | undefined {
  const match = /^\/rooms\/(\d+)\/stream(?:\?|$)/.exec(req.url ?? '')
  return req.method === 'GET' && match ? Number(match[1]) : undefined
}

export function openStream(res: ServerResponse): void {
  res.socket?.setNoDelay(true)
  // Delimited by the connection's end, not chunked, as Parley's streams: one plain write per frame.
  res.removeHeader('Transfer-Encoding')
  res.removeHeader('Content-Length')
  res.writeHead(200, {
    'Content-Type': 'text/event-stream; charset=utf-8',
    'Cache-Control': 'no-cache',
    Connection: 'close',
  })
  res.write('retry: 2000\n\n')
}

/**
 * Listens on PORT; `/readyz` answers 200 (the harness waits for it), everything else goes to
 * `handler`. SIGTERM and SIGINT end the process at once: there is nothing to drain.
 */
export function serveBaseline(handler: RequestListener, port: number, host: string): void {
  const server = createServer((req, res) => {
    if (req.url === '/readyz') res.end('ok')
    else handler(req, res)
  })
  server.listen(port, host)
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, () => process.exit(0))
}
