import type { Socket } from 'node:net'
import { afterAll, afterEach, beforeAll } from 'vitest'
import type { Auth } from '../../src/auth/jwt.js'
import { createTestDatabase, type TestDatabase } from './database.js'
import { startTestServer, type TestServer } from './server.js'
import { openStream, type StreamClient } from './sse.js'

// A test file's database and servers in one line: `const { server, database } = useTestServer()`.
// The objects returned exist from the start but are filled in by `beforeAll`, so a file can
// destructure them at its top level and use them in its tests and hooks (never while
// vitest collects the tests). Everything is closed and the database dropped after the
// file's last test.

/** `instances` servers: a tuple, so that `const [a, b] = servers` needs no checks. */
type Servers<N extends number, Started extends TestServer[] = []> = Started['length'] extends N
  ? Started
  : Servers<N, [...Started, TestServer]>

export interface TestServerOptions<N extends number> {
  /** Variables over the product's defaults, as `startTestServer` takes them. */
  env?: Record<string, string>
  /** Token verification other than the harness's shared secret. */
  auth?: Auth
  /**
   * How many servers share the file's database (`servers`; `server` is the first). With 0,
   * the file starts its own with `startServer`.
   */
  instances?: N
}

/** The file's own migrated database (`migrate: false` leaves it empty), dropped after its last test. */
export function useTestDatabase({ migrate = true } = {}): TestDatabase {
  const database = {} as TestDatabase
  beforeAll(async () => {
    Object.assign(database, await createTestDatabase({ migrate }))
  })
  afterAll(async () => {
    await database.drop?.()
  })
  return database
}

/**
 * The file's database and `instances` servers on it. `startServer` starts one more, with
 * its own settings, that closes with the others unless the test closes it first.
 * `restart()` closes the first server (streams get `event: shutdown`), runs `meanwhile`
 * while none listens, and starts a new one on the same port, where clients find it again.
 */
export function useTestServer<N extends number = 1>({
  env = {},
  auth,
  instances = 1 as N,
}: TestServerOptions<N> = {}) {
  const database = useTestDatabase()
  const servers = Array.from({ length: instances }, () => ({}) as TestServer)
  const started: TestServer[] = []

  async function startServer(overrides: Record<string, string> = {}, withAuth = auth) {
    const server = await startTestServer(database, { ...env, ...overrides }, withAuth)
    started.push(server)
    return server
  }

  beforeAll(async () => {
    for (const server of servers) Object.assign(server, await startServer())
  })
  // vitest runs after-hooks last registered first: the servers close before the database is dropped.
  afterAll(async () => {
    await Promise.all(started.splice(0).map((server) => server.close()))
  })

  async function restart(meanwhile: () => Promise<unknown> = async () => {}) {
    const server = servers[0]!
    await server.close()
    await meanwhile()
    Object.assign(server, await startServer({ PORT: String(server.port) }))
  }

  return { database, server: servers[0]!, servers: servers as Servers<N>, startServer, restart }
}

/**
 * For files whose tests each start their own servers with the limit they are about: the
 * file's database, and after each test everything the test opened is closed (streams,
 * sockets, servers).
 */
export function useServerPerTest() {
  const database = useTestDatabase()
  const servers: TestServer[] = []
  const streams: StreamClient[] = []
  const sockets: Socket[] = []

  /** A server on the file's database with `env` over the product's defaults. */
  async function serverWith(env: Record<string, string>) {
    const server = await startTestServer(database, env)
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

  afterEach(async () => {
    for (const stream of streams.splice(0)) stream.close()
    for (const socket of sockets.splice(0)) socket.destroy()
    for (const server of servers.splice(0)) await server.close()
  })

  return { database, serverWith, subscribe, track }
}
