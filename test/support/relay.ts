import type { AddressInfo } from 'node:net'
import { connect, createServer, type Socket } from 'node:net'
import { afterAll, beforeAll } from 'vitest'

export type Relay = Awaited<ReturnType<typeof startRelay>>

/**
 * A relay in front of `server` for the file's tests: started once the server listens (so
 * declare it after the server's fixture), closed after the last test.
 */
export function useRelay(server: { port: number }): Relay {
  const relay = {} as Relay
  beforeAll(async () => {
    Object.assign(relay, await startRelay(server.port))
  })
  afterAll(async () => {
    await relay.close?.()
  })
  return relay
}

/**
 * A TCP relay in front of the server that a test can cut, as a network drop would: the
 * browser talks to the relay only, so every one of its connections goes down at once.
 * `hold()` cuts and keeps every new connection waiting, unanswered, until `release()`, so
 * a test can change things while the page is known to be disconnected.
 */
export async function startRelay(targetPort: number) {
  const sockets = new Set<Socket>()
  let held: Socket[] | undefined

  function join(client: Socket) {
    const upstream = connect(targetPort, '127.0.0.1')
    for (const socket of [client, upstream]) {
      sockets.add(socket)
      socket.on('error', () => socket.destroy())
      socket.on('close', () => {
        sockets.delete(socket)
        client.destroy()
        upstream.destroy()
      })
    }
    client.pipe(upstream)
    upstream.pipe(client)
  }

  const relay = createServer((client) => {
    if (!held) return join(client)
    client.pause()
    client.on('error', () => client.destroy())
    held.push(client)
  })
  await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve))
  const cut = () => {
    for (const socket of sockets) socket.destroy()
  }
  return {
    url: `http://127.0.0.1:${(relay.address() as AddressInfo).port}`,
    cut,
    hold() {
      held ??= []
      cut()
    },
    release() {
      const waiting = held ?? []
      held = undefined
      for (const client of waiting) if (!client.destroyed) join(client)
    },
    close: () => {
      for (const client of held ?? []) client.destroy()
      held = undefined
      cut()
      return new Promise<void>((resolve) => relay.close(() => resolve()))
    },
  }
}
