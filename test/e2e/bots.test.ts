import { expect, it } from 'vitest'
import { useTestServer } from '../support/fixtures.js'
import { createRoom, postMessage, signTestToken } from '../support/server.js'
import { describeInBrowser, signIn, useBrowser, waitForBodies, waitLive } from './browser.js'

describeInBrowser('bots in the browser client', () => {
  const { server } = useTestServer()
  const { newUserPage } = useBrowser()

  it('shows a "bot" badge beside a bot’s name, and none beside a person’s', async () => {
    const roomId = await createRoom(server, 'e2e-bots')
    await postMessage(server, roomId, 'a person wrote this', 'carol')
    const bot = await signTestToken({ sub: 'deploybot', name: 'Deploy Bot', bot: true })
    const posted = await server.request(`/rooms/${roomId}/messages`, {
      method: 'POST',
      as: null,
      headers: { authorization: `Bearer ${bot}` },
      body: JSON.stringify({ body: 'deployed' }),
    })
    expect(posted.status).toBe(201)
    const alice = await newUserPage()
    await signIn(alice, server.url, 'alice', `/#/rooms/${roomId}`)
    await waitLive(alice.page)
    await waitForBodies(alice.page, ['a person wrote this', 'deployed'])
    const badges = await alice.page
      .locator('#messages .message')
      .evaluateAll((items) =>
        items.map((item) => [
          item.querySelector('.author')?.textContent,
          item.querySelector('.bot-badge')?.textContent ?? null,
        ]),
      )
    expect(badges).toEqual([
      ['carol', null],
      ['Deploy Bot', 'bot'],
    ])
  })
})
