/**
 * Baseline "naive": what most people write with Hono. One shared LISTEN connection and one
 * read per room, like Parley, but every subscriber is a `streamSSE` stream and each message
 * is written with `stream.writeSSE` per subscriber, through Hono's web-streams layer.
 */
import { getRequestListener } from '@hono/node-server'
import { Hono } from 'hono'
import { type SSEStreamingApi, streamSSE } from 'hono/streaming'
import { baselineEnv, connect, messageJson, serveBaseline } from './messages.js'
import { createRoomFeed } from './room-feed.js'

const { databaseUrl, port, host } = baselineEnv()
const sql = connect(databaseUrl, 10, 'bench-naive')
const subscribers = new Map<number, Set<SSEStreamingApi>>()

const feed = await createRoomFeed(sql, (roomId, rows) => {
  for (const row of rows) {
    // Serialised once per message; the pattern's cost is the per-subscriber write path.
    const message = { event: 'message', id: row.seq, data: messageJson(row) }
    for (const stream of subscribers.get(roomId) ?? []) void stream.writeSSE(message)
  }
})

const app = new Hono()
app.get('/rooms/:id/stream', async (c) => {
  const roomId = Number(c.req.param('id'))
  await feed.watch(roomId)
  return streamSSE(c, async (stream) => {
    let room = subscribers.get(roomId)
    if (!room) subscribers.set(roomId, (room = new Set()))
    room.add(stream)
    await stream.write('retry: 2000\n\n')
    await new Promise<void>((resolve) => stream.onAbort(resolve))
    room.delete(stream)
    if (room.size === 0 && subscribers.get(roomId) === room) {
      subscribers.delete(roomId)
      feed.unwatch(roomId)
    }
  })
})

serveBaseline(getRequestListener(app.fetch), port, host)
