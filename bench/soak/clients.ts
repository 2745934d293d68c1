import { Agent } from 'node:http'
import { LatencyHistogram } from '../lib/latency-histogram.js'
import { openSseStream, type SseEnd, type SseEvent, type SseStream } from '../lib/sse-client.js'

/** Why a client had to open its stream again. */
export type ReconnectCause = 'churn' | 'aborted' | 'stall_dropped' | 'server_ended' | 'error' | 'refused'

export interface SoakClient {
  index: number
  roomId: number
  token: string
  /** The room's last_seq read just before the first connection: the client must get exactly startSeq+1 … final. */
  startSeq: number
  /** Every seq received, in arrival order, over all its connections. */
  seqs: number[]
  /** The id of the last event received in full: the next connection's Last-Event-ID. */
  lastSeq: number
  maxSeq: number
  state: 'new' | 'connecting' | 'open' | 'waiting' | 'closed'
  stream: SseStream | undefined
  /** Date.now() when the current connection was requested. */
  connectedAt: number
  stalled: boolean
  stallEndedAt: number
  connections: number
  stallTimer: NodeJS.Timeout | undefined
  retryTimer: NodeJS.Timeout | undefined
}

export interface FleetOptions {
  baseUrl: string
  /** A reconnect waits a random delay in this range, like EventSource's retry. */
  reconnectDelayMs: [number, number]
  /** Share of reconnects abandoned a few ms after the request, before the stream starts (0–1). */
  abortShare: number
}

// Long enough for the request to reach the server, short enough to end before its headers.
const ABORT_WITHIN_MS = 3

// A stream the server drops during a stall is only seen to end once the client reads again.
const STALL_ATTRIBUTION_MS = 5_000

/**
 * The soak's SSE clients: each follows one room, reconnects with its Last-Event-ID after
 * any end, and records what it received. Faults (stalls, churn) are injected from outside.
 */
export function createFleet(options: FleetOptions) {
  const agent = new Agent({ keepAlive: true, maxSockets: Infinity })
  const clients: SoakClient[] = []
  const latency = { live: new LatencyHistogram(), all: new LatencyHistogram() }
  const counters = {
    delivered: 0,
    reconnects: { churn: 0, aborted: 0, stall_dropped: 0, server_ended: 0, error: 0, refused: 0 } as Record<
      ReconnectCause,
      number
    >,
    stalls: 0,
    wrongRoom: 0,
    idMismatch: 0,
    malformed: 0,
    otherEvents: new Map<string, number>(),
    refusals: new Map<string, number>(),
    errors: new Map<string, number>(),
  }
  let closing = false
  let faulty = true

  function add(roomId: number, token: string, startSeq: number): SoakClient {
    const client: SoakClient = {
      index: clients.length,
      roomId,
      token,
      startSeq,
      seqs: [],
      lastSeq: startSeq,
      maxSeq: startSeq,
      state: 'new',
      stream: undefined,
      connectedAt: 0,
      stalled: false,
      stallEndedAt: 0,
      connections: 0,
      stallTimer: undefined,
      retryTimer: undefined,
    }
    clients.push(client)
    return client
  }

  function connect(client: SoakClient): void {
    if (closing) return
    client.state = 'connecting'
    client.connections++
    const connectedAt = Date.now()
    client.connectedAt = connectedAt
    const stream: SseStream = openSseStream({
      url: new URL(`/rooms/${client.roomId}/stream`, options.baseUrl),
      headers: { authorization: `Bearer ${client.token}` },
      lastEventId: String(client.lastSeq),
      agent,
      onOpen: () => (client.state = 'open'),
      onEvent: (event) => receive(client, event, connectedAt),
      onEnd: (end) => ended(client, stream, end),
    })
    client.stream = stream
    if (faulty && client.connections > 1 && Math.random() < options.abortShare) {
      setTimeout(() => abortConnecting(client, stream), Math.random() * ABORT_WITHIN_MS)
    }
  }

  /** Like a user leaving while the page connects: the request is gone before the stream starts. */
  function abortConnecting(client: SoakClient, stream: SseStream): void {
    if (client.stream !== stream || client.state !== 'connecting') return
    stream.close()
    client.stream = undefined
    counters.reconnects.aborted++
    scheduleReconnect(client)
  }

  function receive(client: SoakClient, event: SseEvent, connectedAt: number): void {
    if (event.event !== 'message') {
      counters.otherEvents.set(event.event, (counters.otherEvents.get(event.event) ?? 0) + 1)
      return
    }
    const now = Date.now()
    const seq = Number(event.id)
    let message: { room_id?: unknown; seq?: unknown; created_at?: unknown }
    try {
      message = JSON.parse(event.data) as typeof message
    } catch {
      counters.malformed++
      return
    }
    if (!Number.isSafeInteger(seq) || typeof message.created_at !== 'string') {
      counters.malformed++
      return
    }
    if (message.room_id !== client.roomId) counters.wrongRoom++
    if (message.seq !== seq) counters.idMismatch++
    client.seqs.push(seq)
    client.lastSeq = seq
    if (seq > client.maxSeq) client.maxSeq = seq
    counters.delivered++
    const createdAt = Date.parse(message.created_at)
    latency.all.record(now - createdAt)
    // Live: created after this connection was requested (not a replay) and not held back by a stall.
    if (createdAt >= connectedAt && createdAt >= client.stallEndedAt && !client.stalled)
      latency.live.record(now - createdAt)
  }

  function ended(client: SoakClient, stream: SseStream, end: SseEnd): void {
    if (client.stream !== stream) return
    client.stream = undefined
    if (closing) return
    const stallDropped = client.stalled || Date.now() - client.stallEndedAt < STALL_ATTRIBUTION_MS
    endStall(client)
    let cause: ReconnectCause
    if (end.reason === 'status') {
      cause = 'refused'
      count(counters.refusals, `${end.status} ${end.body.slice(0, 120)}`)
    } else if (stallDropped) cause = 'stall_dropped'
    else if (end.reason === 'ended') cause = 'server_ended'
    else {
      cause = 'error'
      count(counters.errors, end.error.message)
    }
    counters.reconnects[cause]++
    scheduleReconnect(client)
  }

  function scheduleReconnect(client: SoakClient): void {
    client.state = 'waiting'
    const [min, max] = options.reconnectDelayMs
    client.retryTimer = setTimeout(
      () => {
        client.retryTimer = undefined
        connect(client)
      },
      min + Math.random() * (max - min),
    )
  }

  function endStall(client: SoakClient): void {
    clearTimeout(client.stallTimer)
    client.stallTimer = undefined
    if (!client.stalled) return
    client.stalled = false
    client.stallEndedAt = Date.now()
    client.stream?.resume()
  }

  /** Up to `count` distinct random clients whose stream is open and reading. */
  function pickReading(count: number): SoakClient[] {
    const picked = new Set<SoakClient>()
    for (let attempt = 0; attempt < count * 20 && picked.size < count && clients.length > 0; attempt++) {
      const client = clients[Math.floor(Math.random() * clients.length)]!
      if (client.state === 'open' && !client.stalled) picked.add(client)
    }
    return [...picked]
  }

  return {
    clients,
    counters,
    latency,
    add,
    connect,

    /** Pauses reading on `count` clients for a random 1 ms … `maxMs` each. */
    stall(count: number, maxMs: number): void {
      for (const client of pickReading(count)) {
        counters.stalls++
        client.stalled = true
        client.stream?.pause()
        client.stallTimer = setTimeout(() => endStall(client), 1 + Math.random() * maxMs)
      }
    },

    /** Disconnects `count` reading clients; they come back with their Last-Event-ID. */
    churn(count: number): void {
      for (const client of pickReading(count)) {
        client.stream?.close()
        client.stream = undefined
        counters.reconnects.churn++
        scheduleReconnect(client)
      }
    },

    /** Resumes every stalled client and stops aborting reconnects. */
    endFaults(): void {
      faulty = false
      for (const client of clients) endStall(client)
    },

    /** Clients that have not yet received their room's final seq. */
    behind(finalSeqs: ReadonlyMap<number, number>): SoakClient[] {
      return clients.filter((client) => client.maxSeq < (finalSeqs.get(client.roomId) ?? 0))
    },

    openCount: () => clients.reduce((open, client) => open + (client.state === 'open' ? 1 : 0), 0),

    /** Ends every stream for good; no reconnects follow. */
    closeAll(): void {
      closing = true
      for (const client of clients) {
        clearTimeout(client.retryTimer)
        clearTimeout(client.stallTimer)
        client.stream?.close()
        client.stream = undefined
        client.state = 'closed'
      }
      agent.destroy()
    },
  }
}

export type Fleet = ReturnType<typeof createFleet>

function count(map: Map<string, number>, key: string): void {
  map.set(key, (map.get(key) ?? 0) + 1)
}
