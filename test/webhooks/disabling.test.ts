import { afterAll, describe, expect, it } from 'vitest'
import { useTestServer } from '../support/fixtures.js'
import { createRoom, postMessage } from '../support/server.js'
import { until } from '../support/wait.js'
import { type Receiver, startReceiver } from '../support/webhook-receiver.js'
import { registerWebhook, WEBHOOK_TEST_ENV } from '../support/webhooks.js'

// An endpoint that fails for WEBHOOK_DISABLE_AFTER_MS is disabled: every instance must
// share the setting, so this file's server is the only one on its database.
const { server } = useTestServer({ env: { ...WEBHOOK_TEST_ENV, WEBHOOK_DISABLE_AFTER_MS: '1000' } })
const receivers: Receiver[] = []
afterAll(() => Promise.all(receivers.map((receiver) => receiver.close())))

async function newReceiver(): Promise<Receiver> {
  const receiver = await startReceiver()
  receivers.push(receiver)
  return receiver
}

describe('failing endpoints', () => {
  it('disables an endpoint that keeps failing and tells its owner on their own stream', async () => {
    const receiver = await newReceiver()
    const failing = await newReceiver()
    failing.respond = () => 503
    try {
      const room = await createRoom(server, 'always down')
      const hook = await registerWebhook(server, { url: failing.url, rooms: [room] })
      await postMessage(server, room, 'nobody hears this')
      await until(
        async () =>
          !((await (await server.request(`/webhooks/${hook.id}`)).json()) as { enabled: boolean }).enabled,
        'the endpoint to be disabled',
      )
      const answer = (await (await server.request(`/webhooks/${hook.id}`)).json()) as {
        disabled_reason: string
      }
      expect(answer.disabled_reason).toMatch(/failed for 1000 ms/)
      const stream = await fetch(`${server.url}/me/stream`, {
        headers: { authorization: `Bearer ${await server.token('alice')}`, 'last-event-id': '0' },
      })
      const reader = stream.body!.getReader()
      let text = ''
      await until(async () => {
        text += new TextDecoder().decode((await reader.read()).value)
        return text.includes('event: webhook_disabled')
      }, 'the owner to be told')
      await reader.cancel()
      expect(text).toContain(`event: webhook_disabled\ndata: {"webhook_id":${hook.id}}`)
      const attempts = failing.received.length
      const markerRoom = await createRoom(server, 'marker')
      const marker = await registerWebhook(server, { url: receiver.url, rooms: [markerRoom] })
      await postMessage(server, room, 'after disabling')
      await postMessage(server, markerRoom, 'marker')
      await until(() => receiver.verified(marker.secret).length === 1, 'the marker')
      expect(failing.received.length).toBe(attempts)
    } finally {
      failing.respond = () => 204
    }
  })
  it('disables an endpoint at once when it answers 410 Gone', async () => {
    const gone = await newReceiver()
    gone.respond = () => 410
    const room = await createRoom(server, 'gone')
    const hook = await registerWebhook(server, { url: gone.url, rooms: [room] })
    await postMessage(server, room, 'anyone there?')
    await until(
      async () =>
        !((await (await server.request(`/webhooks/${hook.id}`)).json()) as { enabled: boolean }).enabled,
      'the endpoint to be disabled',
    )
    expect(gone.received).toHaveLength(1)
    const answer = (await (await server.request(`/webhooks/${hook.id}`)).json()) as {
      disabled_reason: string
    }
    expect(answer.disabled_reason).toBe('the endpoint answered 410 Gone')
  })

  it('resumes a re-enabled endpoint where it stopped', async () => {
    const receiver = await newReceiver()
    receiver.respond = () => 410
    const room = await createRoom(server, 'back again')
    const hook = await registerWebhook(server, {
      url: receiver.url,
      rooms: [room],
      events: ['message.created'],
    })
    await postMessage(server, room, 'first')
    await until(
      async () =>
        !((await (await server.request(`/webhooks/${hook.id}`)).json()) as { enabled: boolean }).enabled,
      'the endpoint to be disabled',
    )
    await postMessage(server, room, 'second')
    receiver.respond = () => 204
    const enabled = await server.request(`/webhooks/${hook.id}`, {
      method: 'PATCH',
      body: JSON.stringify({ enabled: true }),
    })
    expect(enabled.status).toBe(200)
    await until(() => receiver.deduplicated(hook.secret).length === 2, 'both messages')
    expect(receiver.deduplicated(hook.secret).map((p) => (p.data as { body: string }).body)).toEqual([
      'first',
      'second',
    ])
  })
})
