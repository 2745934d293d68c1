import { createServer, type IncomingHttpHeaders } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Webhook } from 'standardwebhooks'

// A real receiver for webhook tests: node:http on 127.0.0.1, an ephemeral port. It keeps
// every request and answers what `respond` says, 204 by default. Signatures are checked
// with the standardwebhooks package, never with Parley's own code.

export interface Received {
  id: string
  timestamp: string
  signature: string
  body: string
  headers: IncomingHttpHeaders
  receivedAt: number
}

export interface WebhookPayload {
  type: string
  timestamp: string
  room_id: number
  cursor: number
  data: Record<string, unknown>
  truncated?: true
}

export interface Receiver {
  url: string
  received: Received[]
  /** What to answer the next request (now or later); 0 never answers it. */
  respond: (request: Received) => number | Promise<number>
  /** The verified payloads of every request signed with `secret`, in order of arrival; throws on a bad one. */
  verified(secret: string): WebhookPayload[]
  /** Each webhook-id once, in order of first arrival: what a deduplicating receiver processes. */
  deduplicated(secret: string): WebhookPayload[]
  close(): Promise<void>
}

export async function startReceiver(): Promise<Receiver> {
  const received: Received[] = []
  const receiver = { respond: () => 204 } as unknown as Receiver
  const server = createServer((request, response) => {
    const chunks: Buffer[] = []
    request.on('data', (chunk: Buffer) => chunks.push(chunk))
    request.on('end', () => {
      const entry: Received = {
        id: String(request.headers['webhook-id']),
        timestamp: String(request.headers['webhook-timestamp']),
        signature: String(request.headers['webhook-signature']),
        body: Buffer.concat(chunks).toString('utf8'),
        headers: request.headers,
        receivedAt: Date.now(),
      }
      received.push(entry)
      void Promise.resolve(receiver.respond(entry)).then((status) => {
        if (status !== 0) response.writeHead(status).end()
      })
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo

  function verify(secret: string, entry: Received): WebhookPayload {
    return new Webhook(secret).verify(entry.body, {
      'webhook-id': entry.id,
      'webhook-timestamp': entry.timestamp,
      'webhook-signature': entry.signature,
    }) as WebhookPayload
  }

  return Object.assign(receiver, {
    url: `http://127.0.0.1:${port}/hook`,
    received,
    verified: (secret: string) => received.map((entry) => verify(secret, entry)),
    deduplicated(secret: string) {
      const seen = new Set<string>()
      return received
        .filter((entry) => !seen.has(entry.id) && seen.add(entry.id))
        .map((entry) => verify(secret, entry))
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  })
}
