import { Agent } from 'node:http'
import { createServer, type Server, type Socket } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { requestJson } from '../../bench/lib/http-json.js'
import { openSseStream, type SseEnd } from '../../bench/lib/sse-client.js'

// A server that answers the first request on each connection and closes the connection on
// the second, without answering, as a server closing an idle keep-alive connection does
// when a request arrives at that moment.

const RESPONSES = {
  json: 'HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: 11\r\nConnection: keep-alive\r\n\r\n{"ok":true}',
  sse: 'HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: keep-alive\r\n\r\nid: 1\ndata: hi\n\n',
}

let server: Server
let url: URL
const sockets = new Set<Socket>()

beforeAll(async () => {
  server = createServer((socket) => {
    sockets.add(socket)
    let requests = 0
    let buffered = ''
    socket.on('data', (chunk) => {
      buffered += chunk.toString()
      while (buffered.includes('\r\n\r\n')) {
        const request = buffered.slice(0, buffered.indexOf('\r\n\r\n'))
        buffered = buffered.slice(buffered.indexOf('\r\n\r\n') + 4).replace(/^\{\}/, '')
        if (++requests > 1) {
          socket.destroy()
          return
        }
        socket.write(request.includes('text/event-stream') ? RESPONSES.sse : RESPONSES.json)
      }
    })
    socket.on('error', () => {})
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  url = new URL(`http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/`)
})

afterAll(async () => {
  for (const socket of sockets) socket.destroy()
  await new Promise((resolve) => server.close(resolve))
})

describe("the bench's HTTP clients", () => {
  it('send a request again on a new connection when a pooled one was closed under it', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 })
    try {
      expect(await requestJson(url, { method: 'POST', body: {}, agent })).toEqual({
        status: 201,
        body: { ok: true },
      })
      expect(await requestJson(url, { method: 'POST', body: {}, agent })).toEqual({
        status: 201,
        body: { ok: true },
      })

      const events: string[] = []
      const ended = new Promise<SseEnd>((resolve) => {
        const stream = openSseStream({
          url,
          agent,
          onEvent: (event) => {
            events.push(event.data)
            stream.close()
            resolve({ reason: 'ended' })
          },
          onEnd: resolve,
        })
      })
      expect(await ended).toEqual({ reason: 'ended' })
      expect(events).toEqual(['hi'])
    } finally {
      agent.destroy()
    }
  })
})
