import type { Socket } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { openHttpStream } from '../lib/http-stream.js'

/**
 * A room's stream that comes back as a browser's EventSource does: when the server ends it,
 * it reconnects after the stream's `retry:` with the last `id:` as Last-Event-ID, until
 * closed. Every message's seq is kept with its arrival time (performance.now()).
 */
export interface FollowingStream {
  roomId: number
  /** Which server it is open on, from 0. */
  server: number
  seqs: number[]
  at: number[]
  /** `event: reload` frames received. */
  reloads: number
  /** Times the server ended it and it came back. */
  reconnects: number
  close(): void
}

/** Resolves once the first connection is open, or with why it could not be. */
export async function followRoom(
  base: { url: string; index: number },
  roomId: number,
  token: string,
): Promise<{ stream: FollowingStream; failure?: string }> {
  const url = new URL(base.url)
  let lastId: string | undefined
  let retryMs = 2_000
  let closed = false
  let socket: Socket | undefined
  const stream: FollowingStream = {
    roomId,
    server: base.index,
    seqs: [],
    at: [],
    reloads: 0,
    reconnects: 0,
    close() {
      closed = true
      socket?.destroy()
    },
  }

  const frame = (text: string, now: number) => {
    for (const line of text.split('\n')) {
      if (line.startsWith('id: ')) lastId = line.slice(4)
      else if (line.startsWith('retry: ')) retryMs = Number(line.slice(7)) || retryMs
      else if (line === 'event: reload') stream.reloads++
    }
    if (!text.includes('event: message')) return
    const seq = /"seq":(\d+)/.exec(text)?.[1]
    if (seq === undefined) return
    stream.seqs.push(Number(seq))
    stream.at.push(now)
  }

  const open = async (): Promise<string | undefined> => {
    let tail = ''
    const opened = await openHttpStream({
      host: url.hostname,
      port: Number(url.port),
      path: `/rooms/${roomId}/stream`,
      headers: {
        Authorization: `Bearer ${token}`,
        ...(lastId === undefined ? {} : { 'Last-Event-ID': lastId }),
      },
      timeoutMs: 30_000,
      onBody: (text) => {
        const now = performance.now()
        tail += text
        const end = tail.lastIndexOf('\n\n')
        if (end === -1) return
        for (const part of tail.slice(0, end).split('\n\n')) frame(part, now)
        tail = tail.slice(end + 2)
      },
      onClose: () => void comeBack(),
    })
    if (opened.failure !== undefined) return opened.failure
    socket = opened.socket
    return undefined
  }

  const comeBack = async () => {
    if (closed) return
    stream.reconnects++
    for (;;) {
      await sleep(retryMs)
      if (closed) return
      if ((await open()) === undefined) break
    }
    if (closed) socket?.destroy()
  }

  const failure = await open()
  return { stream, failure }
}
