import type { Socket } from 'node:net'
import type { TestDatabase } from './database.js'
import { startTestServer, type TestServer } from './server.js'
import { openStream, type StreamClient } from './sse.js'

/**
 * For files whose tests each start their own server with the limit they are about.
 * `release()`, after each test, closes what the test opened: streams, sockets, servers.
 */
export function serverPerTest(database: () => TestDatabase) {
  const servers: TestServer[] = []
  const streams: StreamClient[] = []
  const sockets: Socket[] = []

  /** A server on the file's database with `env` over the product's defaults. */
  async function serverWith(env: Record<string, string>) {
    const server = await startTestServer(database(), env)
    servers.push(server)
    return server
  }

  /** An open stream of `roomId` as `as`. */
  async function subscribe(server: TestServer, roomId: number, as: string, lastEventId?: number) {
    const stream = openStream(server.url, roomId, { token: await server.token(as), lastEventId })
    streams.push(stream)
    await stream.opened
    return stream
  }

  /** Destroys `socket` after the test. */
  function track(socket: Socket) {
    sockets.push(socket)
    return socket
  }

  async function release() {
    for (const stream of streams.splice(0)) stream.close()
    for (const socket of sockets.splice(0)) socket.destroy()
    for (const server of servers.splice(0)) await server.close()
  }

  return { serverWith, subscribe, track, release }
}
