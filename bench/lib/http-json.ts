import { type Agent, request } from 'node:http'
import { isStaleKeepAlive } from './keep-alive.js'

export interface JsonResponse {
  status: number
  body: unknown
}

/** Sends a JSON request with a bearer token over node:http and parses the JSON answer. */
export function requestJson(
  url: URL,
  init: { method?: string; token?: string; body?: unknown; agent?: Agent; timeoutMs?: number } = {},
): Promise<JsonResponse> {
  const payload = init.body === undefined ? undefined : JSON.stringify(init.body)
  const headers: Record<string, string> = { accept: 'application/json' }
  if (init.token) headers.authorization = `Bearer ${init.token}`
  if (payload !== undefined) {
    headers['content-type'] = 'application/json'
    headers['content-length'] = String(Buffer.byteLength(payload))
  }
  const send = (retry: boolean) =>
    new Promise<JsonResponse>((resolve, reject) => {
      let answered = false
      const req = request(url, { method: init.method ?? 'GET', headers, agent: init.agent }, (res) => {
        answered = true
        let text = ''
        res.setEncoding('utf8')
        res.on('data', (chunk: string) => (text += chunk))
        res.on('end', () => {
          let body: unknown = text
          try {
            body = text ? JSON.parse(text) : undefined
          } catch {
            // Not JSON: the raw text is the body.
          }
          resolve({ status: res.statusCode ?? 0, body })
        })
        res.on('error', reject)
      })
      req.setTimeout(init.timeoutMs ?? 10_000, () => req.destroy(new Error('request timed out')))
      req.on('error', (error: NodeJS.ErrnoException) => {
        if (retry && !answered && isStaleKeepAlive(req, error)) resolve(send(false))
        else reject(error)
      })
      req.end(payload)
    })
  return send(true)
}
