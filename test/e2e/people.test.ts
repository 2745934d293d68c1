import { expect, it } from 'vitest'
import { useTestServer } from '../support/fixtures.js'
import { createRoom, postMessage } from '../support/server.js'
import { until } from '../support/wait.js'
import { describeInBrowser, signIn, useBrowser, WAIT_MS, waitForText, waitLive } from './browser.js'

describeInBrowser('mentions and direct messages in the browser client', () => {
  const { server } = useTestServer()
  const { newUserPage } = useBrowser()

  async function signedIn(name: string, path = '/') {
    const user = await newUserPage()
    await signIn(user, server.url, name, path)
    return user
  }

  it('shows mentions in the lobby and the tab title, and lists direct messages by the other person', async () => {
    const room = await createRoom(server, 'e2e-mentioned', 'bob')
    // A public room's mentions count for the people it knows: alice is in it.
    expect((await server.request(`/rooms/${room}/join`, { method: 'POST', as: 'alice' })).status).toBe(201)
    await postMessage(server, room, 'look at this @alice', 'bob')
    const dm = await server.request('/dms', {
      method: 'POST',
      body: JSON.stringify({ user_id: 'alice', user_name: 'Alice' }),
      as: 'bob',
    })
    expect(dm.status).toBe(201)

    const { page } = await signedIn('alice')
    const item = page.locator('#room-list li', { hasText: 'e2e-mentioned' })
    await item.locator('.badge.mention', { hasText: '1 mention' }).waitFor({ timeout: WAIT_MS })
    await until(async () => (await page.title()) === '(1) Rooms · Parley', 'the mention count in the title')
    await page.locator('#dm-list li', { hasText: 'bob' }).waitFor({ timeout: WAIT_MS })
    expect(await page.locator('#room-list li', { hasText: 'bob' }).count()).toBe(0)

    await page.getByLabel('Their user id').fill('carol')
    await page.getByRole('button', { name: 'Open conversation' }).click()
    await waitForText(page, '#room-title', 'alice & carol')
    await waitLive(page)
  })

  it('completes @ from the room’s members and marks a message that mentions the reader', async () => {
    const room = await createRoom(server, 'e2e-complete', 'dana')
    for (const member of ['erik', 'elsa']) {
      const joined = await server.request(`/rooms/${room}/join`, { method: 'POST', as: member })
      expect(joined.status).toBe(201)
    }
    const { page } = await signedIn('dana', `/#/rooms/${room}`)
    await waitLive(page)
    const input = page.getByLabel('Message', { exact: true })
    await input.pressSequentially('thanks @e')
    await page.locator('#mention-options li').first().waitFor({ timeout: WAIT_MS })
    expect(await page.locator('#mention-options li').allTextContents()).toEqual(['@erik', '@elsa'])
    await input.press('ArrowDown')
    await input.press('Enter')
    expect(await input.inputValue()).toBe('thanks @elsa ')
    await input.press('Enter')
    await page.locator('#messages .body', { hasText: 'thanks @elsa' }).waitFor({ timeout: WAIT_MS })

    await postMessage(server, room, 'over to you @dana', 'erik')
    await page
      .locator('.content.mentions-me .body', { hasText: 'over to you @dana' })
      .waitFor({ timeout: WAIT_MS })
  })

  it('finds a message with the search box, its matches marked, and opens its room at it', async () => {
    const room = await createRoom(server, 'e2e-search', 'finn')
    await postMessage(server, room, 'the <b>zebracorn</b> & friends are deployed', 'finn')
    for (let i = 0; i < 60; i++) await postMessage(server, room, `filler ${i}`, `filler-${i % 10}`)

    const { page } = await signedIn('gwen')
    await page.getByLabel('Search messages').fill('zebracorn')
    await page.getByRole('button', { name: 'Search' }).click()
    const result = page.locator('#search-results .search-result').first()
    await result.waitFor({ timeout: WAIT_MS })
    expect(await result.locator('mark').allTextContents()).toEqual(['zebracorn'])
    expect(await result.locator('.snippet').textContent()).toBe('the <b>zebracorn</b> & friends are deployed')
    expect(await result.locator('b').count()).toBe(0)

    await result.locator('a').click()
    await waitForText(page, '#room-title', 'e2e-search')
    await page.locator('#messages .highlighted .body', { hasText: 'zebracorn' }).waitFor({ timeout: WAIT_MS })
  })
})
