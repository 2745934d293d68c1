/**
 * Baseline "polling": the other common pattern. No LISTEN at all: every open stream asks the
 * database for its room's rows after its cursor once a second (start times spread over the
 * first second, so the polls are even), on a shared pool of 10 connections like Parley's.
 */
import {
  baselineEnv,
  connect,
  fetchAfter,
  lastSeq,
  messageFrame,
  openStream,
  serveBaseline,
  streamRoomId,
} from './messages.js'

const POLL_MS = 1_000
const { databaseUrl, port, host } = baselineEnv()
const sql = connect(databaseUrl, 10, 'bench-polling')

serveBaseline(
  (req, res) => {
    const roomId = streamRoomId(req)
    if (roomId === undefined) {
      res.writeHead(404).end()
      return
    }
    let timer: NodeJS.Timeout | undefined
    let closed = false
    res.on('close', () => {
      closed = true
      clearTimeout(timer)
    })
    const poll = async (cursor: number) => {
      let frames = ''
      for (const row of await fetchAfter(sql, roomId, cursor)) {
        frames += messageFrame(row)
        cursor = Number(row.seq)
      }
      if (frames) res.write(frames)
      if (!closed) timer = setTimeout(() => void poll(cursor).catch(() => res.destroy()), POLL_MS)
    }
    lastSeq(sql, roomId).then(
      (cursor) => {
        openStream(res)
        timer = setTimeout(() => void poll(cursor).catch(() => res.destroy()), Math.random() * POLL_MS)
      },
      () => res.writeHead(503).end(),
    )
  },
  port,
  host,
)
