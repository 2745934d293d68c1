import type { ClientRequest } from 'node:http'

/**
 * Whether a request failed only because it went out on a pooled connection that the server
 * was closing for idleness at that moment (Node's server closes them after 5 s). Node's
 * global agent keeps connections alive, so a client that buys a ticket and then opens its
 * stream sends the second request on the first one's connection; under load the wait
 * between them can pass the server's timeout. Browsers and undici send such a request again
 * on a new connection, and so do the bench's clients, once: nothing of it reached the server.
 */
export function isStaleKeepAlive(req: ClientRequest, error: NodeJS.ErrnoException): boolean {
  return req.reusedSocket && error.code === 'ECONNRESET'
}
