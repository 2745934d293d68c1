/**
 * Baseline "listen-per-subscriber": the common tutorial pattern. Every open stream gets its
 * own PostgreSQL connection that LISTENs, receives every notification of every room, and
 * reads the row of each one for its room on that same connection. It stops at the
 * database's max_connections: past it a new stream is answered 503 with the error.
 */
import postgres from 'postgres'
import {
  baselineEnv,
  fetchAfter,
  lastSeq,
  MESSAGES_CHANNEL,
  messageFrame,
  openStream,
  serveBaseline,
  streamRoomId,
} from './messages.js'

const { databaseUrl, port, host } = baselineEnv()

serveBaseline(
  (req, res) => {
    const roomId = streamRoomId(req)
    if (roomId === undefined) {
      res.writeHead(404).end()
      return
    }
    let cursor = -1
    let reading = false
    let dirty = false
    const read = async () => {
      reading = true
      while (dirty) {
        dirty = false
        for (const row of await fetchAfter(sql, roomId, cursor)) {
          res.write(messageFrame(row))
          cursor = Number(row.seq)
        }
      }
      reading = false
    }
    // One connection per stream, LISTEN and queries alike (postgres.js's own listen() would add a second).
    const sql = postgres(databaseUrl, {
      max: 1,
      onnotice: () => {},
      connection: { application_name: 'bench-lps' },
      onnotify: (_channel: string, payload: string) => {
        const colon = payload.indexOf(':')
        if (Number(payload.slice(0, colon)) !== roomId || Number(payload.slice(colon + 1)) <= cursor) return
        dirty = true
        if (!reading && cursor >= 0) void read().catch(() => res.destroy())
      },
    } as postgres.Options<Record<string, postgres.PostgresType>>)
    res.on('close', () => void sql.end({ timeout: 0 }))
    sql
      .unsafe(`listen ${MESSAGES_CHANNEL}`)
      .then(async () => {
        cursor = await lastSeq(sql, roomId)
        openStream(res)
        if (dirty) await read()
      })
      .catch((error: unknown) => {
        if (res.headersSent) res.destroy()
        else res.writeHead(503, { 'Content-Type': 'text/plain' }).end(String(error))
      })
  },
  port,
  host,
)
