import { Agent as HttpAgent, type IncomingMessage, request as httpRequest } from 'node:http'
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https'
import { isIP } from 'node:net'
import { checkedLookup, hostOf, isRefusedAddress } from './address.js'

/** How much of an answer is read: a receiver's body is not ours to keep, only its status. */
export const MAX_RESPONSE_BYTES = 4096

export interface Attempt {
  /** The HTTP status, or null when none came. */
  status: number | null
  latencyMs: number
  /** Why it failed, for the delivery log; null on success. */
  error: string | null
  /** A Retry-After the receiver asked for, in milliseconds. */
  retryAfterMs?: number
}

export interface SenderOptions {
  timeoutMs: number
  allowPrivate: boolean
  /** Connections kept open per receiver host. */
  maxSockets: number
}

export type Sender = ReturnType<typeof createSender>

/**
 * POSTs webhooks: one request each, never redirected, bounded in time (the whole exchange,
 * connection included, within `timeoutMs`) and in what is read of the answer. Connections
 * are kept alive between deliveries; a new one goes only to checked addresses.
 */
export function createSender({ timeoutMs, allowPrivate, maxSockets }: SenderOptions) {
  const lookup = allowPrivate ? undefined : checkedLookup
  const agents = {
    'http:': new HttpAgent({ keepAlive: true, maxSockets, lookup }),
    'https:': new HttpsAgent({ keepAlive: true, maxSockets, lookup }),
  }

  function post(url: URL, body: string, headers: Record<string, string>): Promise<Attempt> {
    const started = performance.now()
    const elapsed = () => Math.round(performance.now() - started)
    const host = hostOf(url)
    if (!allowPrivate && isIP(host) && isRefusedAddress(host)) {
      return Promise.resolve({
        status: null,
        latencyMs: 0,
        error: `${host} is not an address webhooks may reach`,
      })
    }
    return new Promise((resolve) => {
      let settled = false
      const finish = (attempt: Omit<Attempt, 'latencyMs'>) => {
        if (settled) return
        settled = true
        clearTimeout(timer)
        resolve({ ...attempt, latencyMs: elapsed() })
      }
      const send = url.protocol === 'https:' ? httpsRequest : httpRequest
      const request = send(url, {
        method: 'POST',
        agent: agents[url.protocol as 'http:' | 'https:'],
        headers: {
          ...headers,
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
        },
      })
      const timer = setTimeout(() => {
        finish({ status: null, error: `no answer within ${timeoutMs} ms` })
        request.destroy()
      }, timeoutMs)
      request.on('error', (error: NodeJS.ErrnoException) => {
        const refusedAddress = error.code === 'EADDRNOTALLOWED'
        finish({
          status: null,
          error: refusedAddress ? error.message : `${error.code ?? 'error'}: ${error.message}`,
        })
      })
      request.on('response', (response) =>
        readBounded(response, (status) => finish(answer(response, status))),
      )
      request.end(body)
    })
  }

  return {
    post,
    close() {
      agents['http:'].destroy()
      agents['https:'].destroy()
    },
  }
}

/** Reads at most MAX_RESPONSE_BYTES of the answer, then lets the connection go. */
function readBounded(response: IncomingMessage, done: (status: number) => void): void {
  const status = response.statusCode ?? 0
  let read = 0
  response.on('data', (chunk: Buffer) => {
    read += chunk.length
    if (read > MAX_RESPONSE_BYTES) {
      response.destroy()
      done(status)
    }
  })
  response.on('end', () => done(status))
  response.on('error', () => done(status))
  response.on('close', () => done(status))
}

function answer(response: IncomingMessage, status: number): Omit<Attempt, 'latencyMs'> {
  if (status >= 200 && status < 300) return { status, error: null }
  const retryAfter = Number(response.headers['retry-after'])
  return {
    status,
    error: `answered ${status}`,
    ...(Number.isFinite(retryAfter) && retryAfter >= 0 ? { retryAfterMs: retryAfter * 1000 } : {}),
  }
}
