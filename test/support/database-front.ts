import { type AddressInfo, connect, createServer, type Socket } from 'node:net'

export type DatabaseFront = Awaited<ReturnType<typeof startDatabaseFront>>

/** A PostgreSQL ErrorResponse message: FATAL, with its SQLSTATE and message. */
function fatal(code: string, message: string): Buffer {
  const fields = Buffer.from(`SFATAL\0VFATAL\0C${code}\0M${message}\0\0`)
  const header = Buffer.alloc(5)
  header.write('E')
  header.writeInt32BE(fields.length + 4, 1)
  return Buffer.concat([header, fields])
}

/**
 * A TCP front of the database at `databaseUrl`: a server given `url` instead reaches that
 * database except between `hangUp()` and `reopen()`, when the front answers as a PostgreSQL
 * shutting down: each open connection is ended with 57P01, each new one refused with 57P03.
 * Answered, not reset: postgres.js counts every connection that fails with a socket error
 * against one backoff shared by its pool, which soon reaches seconds, and it retries a
 * connection closed without a word while it opens.
 */
export async function startDatabaseFront(databaseUrl: string) {
  const target = new URL(databaseUrl)
  const upstreams = new Map<Socket, Socket>()
  const accepted = new Set<Socket>()
  let open = true

  function refuse(client: Socket) {
    client.on('error', () => client.destroy())
    // After the startup message, as PostgreSQL answers it.
    client.once('data', () => client.end(fatal('57P03', 'the database system is shutting down')))
  }

  const front = createServer((client) => {
    accepted.add(client)
    client.on('close', () => accepted.delete(client))
    if (!open) return refuse(client)
    const upstream = connect(Number(target.port), target.hostname)
    upstreams.set(client, upstream)
    for (const socket of [client, upstream]) {
      socket.on('error', () => socket.destroy())
      socket.on('close', () => {
        if (upstreams.get(client) !== upstream) return
        upstreams.delete(client)
        client.destroy()
        upstream.destroy()
      })
    }
    client.pipe(upstream).pipe(client)
  })
  await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', resolve))
  const url = new URL(databaseUrl)
  url.hostname = '127.0.0.1'
  url.port = String((front.address() as AddressInfo).port)
  return {
    url: url.toString(),
    hangUp() {
      open = false
      for (const [client, upstream] of upstreams) {
        upstreams.delete(client)
        upstream.unpipe(client)
        upstream.destroy()
        client.end(fatal('57P01', 'terminating connection due to administrator command'))
      }
    },
    /** Lets new connections through again. */
    reopen() {
      open = true
    },
    /** Stops listening and drops every connection still open, a refused one included. */
    close() {
      const closed = new Promise<void>((resolve) => front.close(() => resolve()))
      for (const socket of accepted) socket.destroy()
      for (const upstream of upstreams.values()) upstream.destroy()
      return closed
    },
  }
}
