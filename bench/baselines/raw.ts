/**
 * Baseline "raw": a bare node:http server with one LISTEN connection that builds each frame
 * once and writes the same bytes to every response of the room. Nothing else: no framework,
 * no auth, no limits, no heartbeats. The practical ceiling of this design on this machine.
 */
import type { ServerResponse } from 'node:http'
import { baselineEnv, connect, messageFrame, openStream, serveBaseline, streamRoomId } from './messages.js'
import { createRoomFeed } from './room-feed.js'

const { databaseUrl, port, host } = baselineEnv()
const sql = connect(databaseUrl, 10, 'bench-raw')
const subscribers = new Map<number, Set<ServerResponse>>()

const feed = await createRoomFeed(sql, (roomId, rows) => {
  let frames = ''
  for (const row of rows) frames += messageFrame(row)
  const bytes = Buffer.from(frames)
  for (const res of subscribers.get(roomId) ?? []) res.write(bytes)
})

serveBaseline(
  (req, res) => {
    const roomId = streamRoomId(req)
    if (roomId === undefined) {
      res.writeHead(404).end()
      return
    }
    feed.watch(roomId).then(
      () => {
        let room = subscribers.get(roomId)
        if (!room) subscribers.set(roomId, (room = new Set()))
        room.add(res)
        openStream(res)
        res.on('close', () => {
          room.delete(res)
          if (room.size === 0 && subscribers.get(roomId) === room) {
            subscribers.delete(roomId)
            feed.unwatch(roomId)
          }
        })
      },
      () => res.writeHead(503).end(),
    )
  },
  port,
  host,
)
