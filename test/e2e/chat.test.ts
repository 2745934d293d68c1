import { mkdir } from 'node:fs/promises'
import { expect, it } from 'vitest'
import { useTestServer } from '../support/fixtures.js'
import { createRoom, postMessage } from '../support/server.js'
import {
  describeInBrowser,
  sendMessage,
  shownBodies,
  signIn,
  useBrowser,
  WAIT_MS,
  waitForBodies,
  waitForPresent,
  waitForText,
  waitLive,
} from './browser.js'

const SCREENSHOT_DIR = 'test-results/e2e'
describeInBrowser('the browser client in Chromium', () => {
  // Frequent heartbeats: a stream whose token expired is closed within half a second.
  const { server, database } = useTestServer({ env: { HEARTBEAT_MS: '500' } })
  const { newUserPage } = useBrowser()

  /** A signed-in user with the room open and its stream live. */
  async function openRoomAs(name: string, roomId: number, viewport?: { width: number; height: number }) {
    const user = await newUserPage(viewport)
    await signIn(user, server.url, name, `/#/rooms/${roomId}`)
    await waitLive(user.page)
    return user
  }

  it('signs in by name, lists rooms with unread counts and creates a room', async () => {
    const busy = await createRoom(server, 'e2e-lobby-busy', 'carol')
    await postMessage(server, busy, 'one', 'carol')
    await postMessage(server, busy, 'two', 'carol')
    const alice = await newUserPage()
    await signIn(alice, server.url, 'alice')
    const { page } = alice
    await waitForText(page, '#whoami', 'alice (alice)')
    const busyItem = page.locator('#room-list li', { hasText: 'e2e-lobby-busy' })
    await busyItem.locator('.badge', { hasText: '2 unread' }).waitFor({ timeout: WAIT_MS })

    await page.getByLabel('Name', { exact: true }).fill('e2e-created')
    await page.getByLabel('Private: members only').check()
    await page.getByRole('button', { name: 'Create room' }).click()
    await waitForText(page, '#room-title', 'e2e-created')
    await waitLive(page)
    expect(page.url()).toMatch(/#\/rooms\/[0-9]+$/)

    await page.getByRole('link', { name: '← Rooms' }).click()
    await page
      .locator('#room-list li', { hasText: 'e2e-created' })
      .locator('.tag')
      .waitFor({ timeout: WAIT_MS })
  })

  it('shows a message typed in one page in the other, and a psql insert in both', async () => {
    const roomId = await createRoom(server, 'e2e-live')
    const alice = await openRoomAs('alice', roomId)
    const bob = await openRoomAs('bob', roomId)
    await sendMessage(alice.page, 'hello bob')
    await waitForBodies(bob.page, ['hello bob'])
    await sendMessage(bob.page, 'hi alice')
    await waitForBodies(alice.page, ['hello bob', 'hi alice'])
    await database.sql`insert into messages (room_id, user_id, user_name, body)
      values (${roomId}, 'ops', 'Ops', 'from psql')`
    const all = ['hello bob', 'hi alice', 'from psql']
    await Promise.all([waitForBodies(alice.page, all), waitForBodies(bob.page, all)])
    expect(await alice.page.locator('#messages .message.mine .body').allTextContents()).toEqual(['hello bob'])
  })

  it('shows "alice is typing…" in bob\'s page and clears it when she sends', async () => {
    const roomId = await createRoom(server, 'e2e-typing')
    const alice = await openRoomAs('alice', roomId)
    const bob = await openRoomAs('bob', roomId)
    await alice.page.getByLabel('Message', { exact: true }).fill('still thinking')
    await waitForText(bob.page, '#typing', 'alice is typing…')
    await alice.page.getByLabel('Message', { exact: true }).press('Enter')
    await waitForText(bob.page, '#typing', '')
    await waitForBodies(bob.page, ['still thinking'])
    // Never told about one's own typing.
    expect(await alice.page.locator('#typing').textContent()).toBe('')
  })

  it('lists both users as present and drops one whose page closes', async () => {
    const roomId = await createRoom(server, 'e2e-presence')
    const alice = await openRoomAs('alice', roomId)
    const bob = await openRoomAs('bob', roomId)
    await Promise.all([
      waitForPresent(alice.page, ['alice', 'bob']),
      waitForPresent(bob.page, ['alice', 'bob']),
    ])
    await bob.page.close()
    await waitForPresent(alice.page, ['alice'])
  })

  it('keeps the history across a reload, and loads older pages on scrolling up', async () => {
    const roomId = await createRoom(server, 'e2e-history')
    await database.sql`insert into messages (room_id, user_id, user_name, body)
      select ${roomId}, 'ops', 'Ops', 'line ' || n from generate_series(1, 120) n`
    const alice = await openRoomAs('alice', roomId)
    const { page } = alice
    const lines = (from: number, to: number) =>
      Array.from({ length: to - from + 1 }, (_, i) => `line ${from + i}`)
    await waitForBodies(page, lines(71, 120))

    // Scrolled to the top as a reader does, twice: each time the next older page comes in.
    await page.locator('#scroller').hover()
    await page.mouse.wheel(0, -100_000)
    await waitForBodies(page, lines(21, 120))
    await page.mouse.wheel(0, -100_000)
    await waitForBodies(page, lines(1, 120))
    await page.locator('#load-older').waitFor({ state: 'hidden', timeout: WAIT_MS })

    await sendMessage(page, 'after the backlog')
    await waitForBodies(page, [...lines(1, 120), 'after the backlog'])
    await page.reload()
    await waitLive(page)
    await waitForBodies(page, [...lines(72, 120), 'after the backlog'])
  })

  it('renders a body and a name made of HTML as text, and no script runs', async () => {
    const roomId = await createRoom(server, 'e2e-xss')
    const attack = '<img src=x onerror=alert(1)>'
    const mallory = await openRoomAs('<b onmouseover=alert(2)>mallory</b>', roomId)
    const bob = await openRoomAs('bob', roomId)
    await sendMessage(mallory.page, attack)
    await waitForBodies(bob.page, [attack])
    expect(await bob.page.locator('#messages img, #messages b').count()).toBe(0)
    expect(await bob.page.locator('#messages .author').textContent()).toBe(
      '<b onmouseover=alert(2)>mallory</b>',
    )
    await bob.page.locator('#messages .author').hover()
    expect(bob.dialogs).toEqual([])
  })

  it('shows "seen by bob" under the last message bob has read', async () => {
    const roomId = await createRoom(server, 'e2e-receipts')
    const alice = await openRoomAs('alice', roomId)
    await sendMessage(alice.page, 'first')
    await sendMessage(alice.page, 'read me')
    await waitForBodies(alice.page, ['first', 'read me'])
    const bob = await openRoomAs('bob', roomId)
    await waitForBodies(bob.page, ['first', 'read me'])
    const receipt = alice.page.locator('#messages li', { hasText: 'read me' }).locator('.receipt')
    await receipt.filter({ hasText: 'seen by bob' }).waitFor({ timeout: WAIT_MS })
    expect(await alice.page.locator('#messages .receipt').allTextContents()).toEqual(['seen by bob'])
  })

  it('reopens its stream with a fresh token when the old one expires, missing nothing', async () => {
    const roomId = await createRoom(server, 'e2e-expiry')
    const alice = await openRoomAs('alice', roomId)
    const streams: URL[] = []
    alice.page.on('request', (request) => {
      if (request.url().includes(`/rooms/${roomId}/stream`)) streams.push(new URL(request.url()))
    })
    // A two-second token in place of the session's: the server will close its stream.
    const shortToken = await server.token('alice', 'alice', '2s')
    await alice.page.evaluate(`{
      const session = JSON.parse(sessionStorage.getItem('parley.session'))
      sessionStorage.setItem('parley.session', JSON.stringify({ ...session, token: ${JSON.stringify(shortToken)} }))
    }`)
    await alice.page.reload()
    await waitLive(alice.page)
    // Messages keep arriving, one after the other is shown, while the stream expires and is
    // replaced; the ones committed in between come from the new stream's replay.
    const bodies: string[] = []
    const deadline = Date.now() + WAIT_MS
    while (streams.length < 2 || bodies.length < 3) {
      if (Date.now() > deadline) throw new Error(`no second stream after ${bodies.length} messages`)
      const body = `tick ${bodies.length + 1}`
      await database.sql`insert into messages (room_id, user_id, user_name, body)
        values (${roomId}, 'ops', 'Ops', ${body})`
      bodies.push(body)
      await waitForBodies(alice.page, bodies)
    }
    await waitLive(alice.page)
    await postMessage(server, roomId, 'after the renewal', 'bob')
    bodies.push('after the renewal')
    await waitForBodies(alice.page, bodies)
    const [first, second] = streams
    // Neither stream had the token in its URL: the library sends it in a header.
    for (const url of [first!, second!]) expect(url.href).not.toMatch(/ticket=|access_token=|eyJ/)
    expect(Number(second!.searchParams.get('last_event_id'))).toBeGreaterThan(0)
    expect(await shownBodies(alice.page)).toEqual(bodies)
  })

  it('saves a screenshot of the room view, wide and at 375 px', async () => {
    const roomId = await createRoom(server, 'design-review')
    const alice = await openRoomAs('alice', roomId)
    const bob = await openRoomAs('bob', roomId, { width: 375, height: 720 })
    await sendMessage(alice.page, 'Morning! Is the release still on for today?')
    await sendMessage(bob.page, 'Yes, after the migration check.\nI will post the numbers here.')
    await sendMessage(alice.page, 'Great, thanks!')
    await waitForBodies(bob.page, [
      'Morning! Is the release still on for today?',
      'Yes, after the migration check.\nI will post the numbers here.',
      'Great, thanks!',
    ])
    await alice.page.locator('#messages .receipt', { hasText: 'seen by bob' }).waitFor({ timeout: WAIT_MS })
    await bob.page.getByLabel('Message', { exact: true }).fill('Numbers look')
    await waitForText(alice.page, '#typing', 'bob is typing…')
    await mkdir(SCREENSHOT_DIR, { recursive: true })
    await alice.page.screenshot({ path: `${SCREENSHOT_DIR}/room.png` })
    await bob.page.screenshot({ path: `${SCREENSHOT_DIR}/room-375.png` })
    // Readable at 375 px: nothing wider than the screen.
    expect(await bob.page.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(375)
  })
})
