import { expect, it } from 'vitest'
import { useTestServer } from '../support/fixtures.js'
import { createRoom, postMessage } from '../support/server.js'
import { describeInBrowser, signIn, useBrowser, WAIT_MS, waitForText, waitLive } from './browser.js'

describeInBrowser('moderation in the browser client', () => {
  const { server } = useTestServer()
  const { newUserPage } = useBrowser()

  /** A signed-in user with the room open and its stream live. */
  async function openRoomAs(name: string, roomId: number) {
    const user = await newUserPage()
    await signIn(user, server.url, name, `/#/rooms/${roomId}`)
    await waitLive(user.page)
    return user
  }

  it('lets a reader report a message, and its owner dismiss the report, mute and ban the reader', async () => {
    const roomId = await createRoom(server, 'e2e-moderated', 'olive')
    await postMessage(server, roomId, 'welcome, be nice', 'olive')
    const mallory = await openRoomAs('mallory', roomId)
    const olive = await openRoomAs('olive', roomId)

    // Mallory may read but not moderate: no panel, and a Report button on others' messages.
    expect(await mallory.page.locator('#moderation').isHidden()).toBe(true)
    const welcome = mallory.page.locator('#messages li', { hasText: 'welcome, be nice' })
    await welcome.getByRole('button', { name: 'Report' }).click()
    await mallory.page.getByLabel(/^Report olive's message/).fill('too cheerful')
    await mallory.page.locator('#report-send').click()
    await waitForText(mallory.page, '#reported', "Reported olive's message to the room's moderators.")

    // Olive, the owner, sees the report, the members she may act on, and dismisses it.
    const panel = olive.page.locator('#moderation')
    await panel.locator('summary').click()
    await panel.getByRole('button', { name: 'Refresh' }).click()
    const report = panel.locator('#mod-reports li', { hasText: 'too cheerful' })
    await report.waitFor({ timeout: WAIT_MS })
    expect(await report.textContent()).toContain('mallory reported olive:')
    await report.getByRole('button', { name: 'Dismiss' }).click()
    await panel.locator('#mod-reports-empty').waitFor({ state: 'visible', timeout: WAIT_MS })
    const malloryRow = panel.locator('#mod-members li[data-user-id="mallory"]')
    await malloryRow.waitFor({ timeout: WAIT_MS })
    expect(await panel.locator('#mod-members li[data-user-id="olive"] button').count()).toBe(0)

    // Muted, Mallory's message is refused with the server's reason.
    await malloryRow.getByRole('button', { name: 'Mute' }).click()
    await malloryRow.getByRole('button', { name: 'Unmute' }).waitFor({ timeout: WAIT_MS })
    const input = mallory.page.getByLabel('Message', { exact: true })
    await input.fill('can anyone hear me')
    await input.press('Enter')
    await mallory.page
      .locator('#send-error', { hasText: 'You are muted in this room' })
      .waitFor({ timeout: WAIT_MS })
    // The browser logs the refused request; that one is expected.
    expect(mallory.errors).toEqual([expect.stringContaining('403')])
    mallory.errors.length = 0

    // Banned, her open room closes at once, and she is listed as banned.
    await malloryRow.getByRole('button', { name: 'Ban' }).click()
    await mallory.page.locator('#status[data-state="gone"]').waitFor({ timeout: WAIT_MS })
    await panel.locator('#mod-banned li[data-user-id="mallory"]').waitFor({ timeout: WAIT_MS })
    expect(await panel.locator('#mod-members li[data-user-id="mallory"]').count()).toBe(0)
    const answer = await server.request(`/rooms/${roomId}/messages`, { as: 'mallory' })
    expect(answer.status).toBe(404)
  })
})
