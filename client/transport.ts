import { toParleyError } from './errors.js'

/**
 * Where the client gets its bearer token. Called before requests with `renew: false` (return
 * the token you hold) and, after a 401 or a stream's `expired` event, with `renew: true`:
 * then get a new one (sign in again, refresh, ask the user) and hold it, since the client
 * keeps no token of its own and asks again before the next request.
 */
export type GetToken = (context: { renew: boolean }) => string | Promise<string>

export interface TransportOptions {
  /** The server's origin, with a path prefix if it has one; '' for the page's own origin. */
  baseUrl: string
  getToken: GetToken
  /** Defaults to the global fetch. */
  fetch?: typeof fetch
}

export type Query = Record<string, string | number | boolean | undefined>

export type RequestOptions = {
  query?: Query
  body?: unknown
  /** false for the endpoints that take no token (sign-in, health). */
  auth?: boolean
} & CallOptions

/** What every call takes last: how long it may take, and a signal to abort it. */
export interface CallOptions {
  /** Abort the call with a `TimeoutError` DOMException when it has no answer after this many ms. */
  timeout?: number
  signal?: AbortSignal
}

export type Transport = ReturnType<typeof createTransport>

/** URLs, the token, and the one place an answer becomes a value or a ParleyError. */
export function createTransport(options: TransportOptions) {
  const base = options.baseUrl.replace(/\/+$/, '')
  const fetchImpl = options.fetch ?? ((input, init) => globalThis.fetch(input, init))
  let renewal: Promise<string> | undefined

  function url(path: string, query: Query = {}): string {
    const params = new URLSearchParams()
    for (const [name, value] of Object.entries(query))
      if (value !== undefined) params.set(name, String(value))
    const search = params.toString()
    return `${base}${path}${search ? `?${search}` : ''}`
  }

  /** The token to send; renewals asked for while one is under way share it. */
  async function token(renew: boolean): Promise<string> {
    if (!renew) return renewal ?? options.getToken({ renew: false })
    renewal ??= Promise.resolve(options.getToken({ renew: true })).finally(() => (renewal = undefined))
    return renewal
  }

  /**
   * One call; a 401 renews the token through getToken and tries once more, unless
   * `renewOn401` is false (the caller has just renewed it: a refusal now is final).
   */
  async function send(
    method: string,
    path: string,
    request: RequestOptions = {},
    renewOn401 = true,
  ): Promise<Response> {
    const { query, body, auth = true, signal } = request
    for (let attempt = 0; ; attempt++) {
      const headers: Record<string, string> = {}
      if (auth) headers.authorization = `Bearer ${await token(attempt > 0)}`
      if (body !== undefined) headers['content-type'] = 'application/json'
      const init: RequestInit = {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      }
      if (signal) init.signal = signal
      const response = await fetchImpl(url(path, query), init)
      if (response.status === 401 && auth && renewOn401 && attempt === 0) {
        await response.body?.cancel()
        continue
      }
      if (!response.ok) throw await toParleyError(response)
      return response
    }
  }

  /** The JSON answer of a call (undefined for 204), within `request.timeout` when it has one. */
  async function json<T>(
    method: string,
    path: string,
    request: RequestOptions = {},
    renewOn401 = true,
  ): Promise<T> {
    const deadline = withTimeout(request.signal, request.timeout)
    try {
      const response = await send(method, path, { ...request, signal: deadline.signal }, renewOn401)
      if (response.status === 204) return undefined as T
      return (await response.json()) as T
    } finally {
      deadline.clear()
    }
  }

  return { url, token, send, json, fetch: fetchImpl }
}

/** `signal`, or one that also aborts after `timeout` ms, as AbortSignal.timeout would. */
function withTimeout(signal: AbortSignal | undefined, timeout: number | undefined) {
  if (timeout === undefined) return { signal, clear: () => {} }
  const controller = new AbortController()
  const timer = setTimeout(
    () => controller.abort(new DOMException(`No answer within ${timeout} ms`, 'TimeoutError')),
    timeout,
  )
  const follow = () => controller.abort(signal?.reason)
  if (signal?.aborted) follow()
  else signal?.addEventListener('abort', follow, { once: true })
  return {
    signal: controller.signal,
    clear() {
      clearTimeout(timer)
      signal?.removeEventListener('abort', follow)
    },
  }
}
