import { randomUUID } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import {
  essentialFrames,
  useInstanceFleet,
  SHUTDOWN_FRAME,
  SHUTDOWN_TIMEOUT_MS,
  SSE_RETRY_MS,
} from '../support/instances.js'
import { samples, single, waitForOpenStreams } from '../support/metrics.js'
import { until } from '../support/wait.js'

// What a real process tells its operators: /metrics and its log lines.

const { startInstance, tokenFor, createRoom, post, subscribe, openRawStream } = useInstanceFleet()

describe('observability', () => {
  it('exposes open streams, deliveries, lag, listener reconnects and request durations on /metrics', async () => {
    const instance = await startInstance()
    const roomId = await createRoom(instance, 'metrics')
    const token = await tokenFor('watcher')
    const streams = [subscribe(instance, roomId, token), subscribe(instance, roomId, token)]
    await waitForOpenStreams(instance, 2)
    await post(instance, roomId, 'measured', 'frank')
    for (const stream of streams) await stream.waitFor(1)

    const response = await fetch(`${instance.url}/metrics`)
    expect(response.status).toBe(200)
    expect(response.headers.get('content-type')).toMatch(/^text\/plain/)
    const text = await response.text()
    expect(single(text, 'parley_open_streams')).toBe(2)
    expect(single(text, 'parley_messages_delivered_total')).toBe(2)
    expect(single(text, 'parley_listener_reconnects_total')).toBe(0)
    expect(single(text, 'parley_delivery_lag_seconds_count')).toBe(1)
    const lagBuckets = samples(text, 'parley_delivery_lag_seconds_bucket')
    expect(lagBuckets.find((sample) => sample.labels.le === '+Inf')?.value).toBe(1)
    const postDurations = samples(text, 'parley_http_request_duration_seconds_bucket').filter(
      (sample) => sample.labels.route === '/rooms/:id/messages',
    )
    expect(postDurations.length).toBeGreaterThan(0)
    expect(postDurations.find((sample) => sample.labels.le === '+Inf')).toEqual({
      labels: { le: '+Inf', method: 'POST', route: '/rooms/:id/messages', status: '201' },
      value: 1,
    })

    streams[0]!.close()
    await waitForOpenStreams(instance, 1)
    streams[1]!.close()
    await waitForOpenStreams(instance, 0)
  })

  it('logs stream open and close with ms and bytes and a requestId on every request, never a token or a body', async () => {
    const instance = await startInstance()
    const roomId = await createRoom(instance, 'logs')
    const token = await tokenFor('logged-user')
    const refused = await fetch(`${instance.url}/rooms/${roomId}/stream?access_token=not-a-token`)
    expect(refused.status).toBe(401)
    const stream = await openRawStream(`${instance.url}/rooms/${roomId}/stream?access_token=${token}`)
    await waitForOpenStreams(instance, 1)
    const body = `confidential ${randomUUID()}`
    const message = await post(instance, roomId, body, 'logged-user')
    await until(() => stream.state.text.includes('event: message'), 'the message frame')
    // The server ends the stream itself, so the client has every byte, and the log is complete.
    instance.child.kill('SIGTERM')
    await until(() => stream.state.end !== undefined, 'the stream to end', SHUTDOWN_TIMEOUT_MS)
    await until(() => instance.exit !== undefined, 'the process to exit', SHUTDOWN_TIMEOUT_MS + 2_000)
    expect(instance.exit).toEqual({ code: 0, signal: null })

    const frame = `id: 1\nevent: message\ndata: ${JSON.stringify(message)}`
    expect(essentialFrames(stream.state.text)).toEqual([`retry: ${SSE_RETRY_MS}`, frame, SHUTDOWN_FRAME])
    const opened = instance.logs().filter((line) => line.msg === 'stream opened')
    const closed = instance.logs().filter((line) => line.msg === 'stream closed')
    expect(opened).toHaveLength(1)
    expect(closed).toHaveLength(1)
    expect(opened[0]).toMatchObject({ requestId: expect.stringMatching(/\S/), userId: 'logged-user' })
    expect(closed[0]).toMatchObject({
      requestId: opened[0]!.requestId,
      userId: 'logged-user',
      ms: expect.any(Number),
      bytes: expect.any(Number),
    })
    // At least the message frame was counted, and nothing the client did not receive.
    expect(closed[0]!.bytes).toBeGreaterThanOrEqual(Buffer.byteLength(`${frame}\n\n`))
    expect(closed[0]!.bytes).toBeLessThanOrEqual(stream.state.bytes)

    const output = instance.stdout() + instance.stderr()
    expect(output).not.toContain(token)
    expect(output).not.toContain('not-a-token')
    expect(output).not.toContain(body)
    const requests = instance.logs().filter((line) => line.msg === 'request')
    for (const line of requests) expect(line.requestId).toEqual(expect.stringMatching(/\S/))
    expect(requests.map((line) => [line.method, line.path, line.status])).toEqual(
      expect.arrayContaining([
        ['POST', '/rooms', 201],
        ['GET', `/rooms/${roomId}/stream`, 401],
        ['POST', `/rooms/${roomId}/messages`, 201],
        ['GET', '/metrics', 200],
      ]),
    )
  })
})
