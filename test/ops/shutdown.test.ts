import { request as httpRequest } from 'node:http'
import { describe, expect, it } from 'vitest'
import {
  essentialFrames,
  framesOf,
  type Instance,
  useInstanceFleet,
  SHUTDOWN_FRAME,
  SHUTDOWN_TIMEOUT_MS,
  SSE_RETRY_MS,
} from '../support/instances.js'
import { waitForOpenStreams } from '../support/metrics.js'
import { until } from '../support/wait.js'

// SIGTERM and SIGINT on a real process: streams are told to reconnect, in-flight requests
// finish, the LISTEN connection is released, the exit code is 0.

const { startInstance, listenerCount, tokenFor, createRoom, openRawStream } = useInstanceFleet()

/**
 * A POST whose headers and first half of the body are on the wire; `finish()` sends the
 * rest. Until then the server holds an in-flight request it must not cut off.
 */
async function startSlowPost(instance: Instance, roomId: number, body: string, as: string) {
  const payload = JSON.stringify({ body })
  const half = Math.floor(payload.length / 2)
  const request = httpRequest(`${instance.url}/rooms/${roomId}/messages`, {
    method: 'POST',
    agent: false,
    headers: {
      authorization: `Bearer ${await tokenFor(as)}`,
      'content-type': 'application/json',
      'content-length': String(Buffer.byteLength(payload)),
    },
  })
  const response = new Promise<{ status: number; body: string }>((resolve, reject) => {
    request.on('error', reject)
    request.on('response', (res) => {
      let text = ''
      res.setEncoding('utf8').on('data', (chunk: string) => (text += chunk))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }))
      res.on('error', reject)
    })
  })
  response.catch(() => {})
  await new Promise<void>((resolve, reject) =>
    request.write(payload.slice(0, half), (error) => (error ? reject(error) : resolve())),
  )
  return { response, finish: () => request.end(payload.slice(half)) }
}

describe('graceful shutdown', () => {
  it.each(['SIGTERM', 'SIGINT'] as const)(
    'on %s tells streams to reconnect, finishes the in-flight POST, releases LISTEN and exits 0',
    async (signal) => {
      const instance = await startInstance()
      const roomId = await createRoom(instance, `shutdown-${signal}`)
      const token = await tokenFor('watcher')
      const slowPost = await startSlowPost(instance, roomId, `sent across ${signal}`, 'erin')
      const stream = await openRawStream(`${instance.url}/rooms/${roomId}/stream`, token)
      await waitForOpenStreams(instance, 1)
      expect(await listenerCount()).toBe(1)

      const signalled = Date.now()
      instance.child.kill(signal)
      await until(() => stream.state.end !== undefined, 'the stream to end', SHUTDOWN_TIMEOUT_MS)
      expect(stream.state.end).toBe('done')
      expect(essentialFrames(stream.state.text)).toEqual([`retry: ${SSE_RETRY_MS}`, SHUTDOWN_FRAME])
      expect(framesOf(stream.state.text).at(-1)).toBe(SHUTDOWN_FRAME)

      slowPost.finish()
      const answered = await slowPost.response
      expect(answered.status).toBe(201)
      expect(JSON.parse(answered.body)).toMatchObject({ seq: 1, body: `sent across ${signal}` })

      await until(() => instance.exit !== undefined, 'the process to exit', SHUTDOWN_TIMEOUT_MS + 2_000)
      expect(instance.exit).toEqual({ code: 0, signal: null })
      expect(Date.now() - signalled).toBeLessThan(SHUTDOWN_TIMEOUT_MS + 2_000)
      expect(instance.logs().map((line) => line.msg)).toEqual(
        expect.arrayContaining(['shutting down', 'stopped']),
      )
      expect(instance.logs().find((line) => line.msg === 'shutting down')).toMatchObject({ signal })
      await until(async () => (await listenerCount()) === 0, 'its LISTEN connection to end', 2_000)
    },
  )

  it('exits 0 on a SIGTERM that arrives the moment it logs listening', async () => {
    const instance = await startInstance({}, (started) => started.child.kill('SIGTERM'))
    await until(() => instance.exit !== undefined, 'the process to exit', SHUTDOWN_TIMEOUT_MS + 2_000)
    expect(instance.exit).toEqual({ code: 0, signal: null })
  })
})
