import { describe, expect, it } from 'vitest'
import { useTestServer } from '../support/fixtures.js'
import { createRoom } from '../support/server.js'

// Two timer ticks (of 1 s) per interval.
const { server } = useTestServer({ env: { HEARTBEAT_MS: '2000' } })

describe('heartbeats', () => {
  it('ping a lone stream every HEARTBEAT_MS, not every timer tick', async () => {
    const roomId = await createRoom(server, 'lone-heartbeat')
    const response = await fetch(`${server.url}/rooms/${roomId}/stream`, {
      headers: { authorization: `Bearer ${await server.token('lonely')}` },
    })
    const reader = response.body!.getReader()
    const decoder = new TextDecoder()
    const pings: number[] = []
    let text = ''
    while (pings.length < 3) {
      const { value, done } = await reader.read()
      if (done) break
      text += decoder.decode(value, { stream: true })
      for (; text.includes(': ping\n\n'); text = text.replace(': ping\n\n', '')) pings.push(Date.now())
    }
    await reader.cancel()
    const gaps = pings.slice(1).map((at, i) => at - pings[i]!)
    for (const gap of gaps) expect(gap).toBeGreaterThan(1_500)
  })
})
