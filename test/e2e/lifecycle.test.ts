import type { Page } from 'playwright-core'
import { expect, it } from 'vitest'
import { useTestServer } from '../support/fixtures.js'
import { createRoom, postMessage } from '../support/server.js'
import { until } from '../support/wait.js'
import {
  describeInBrowser,
  sendMessage,
  shownBodies,
  signIn,
  useBrowser,
  WAIT_MS,
  waitForBodies,
  waitForText,
  waitForValue,
  waitLive,
} from './browser.js'
import { useRelay } from '../support/relay.js'

/** The <li> of message `seq`. */
const item = (page: Page, seq: number) => page.locator(`#messages li[data-seq="${seq}"]`)

/** A message's reaction chips as "👍 2", sorted (their order is the server's). */
async function chips(page: Page, seq: number): Promise<string[]> {
  const shown = await item(page, seq)
    .locator('.reactions .chip')
    .evaluateAll((buttons) =>
      buttons.map(
        (button) =>
          `${button.querySelector('.chip-emoji')?.textContent} ${button.querySelector('.chip-count')?.textContent}`,
      ),
    )
  return shown.sort()
}

const waitForChips = (page: Page, seq: number, expected: string[]) =>
  waitForValue(() => chips(page, seq), expected, `the reactions on message ${seq}`)

/** The labels of a message's action buttons ([] when it has none). */
const actions = (page: Page, seq: number) => item(page, seq).locator('.actions > .action').allTextContents()

/** Presses one of a message's action buttons, hovering the message first as a reader does. */
async function act(page: Page, seq: number, label: string) {
  await item(page, seq).hover()
  await item(page, seq).locator('.actions').getByRole('button', { name: label, exact: true }).click()
}

describeInBrowser('editing, deleting, reacting and replying in the browser client', () => {
  const { server, database } = useTestServer({ env: { HEARTBEAT_MS: '500' } })
  const relay = useRelay(server)
  const { newUserPage } = useBrowser()

  async function openRoomAs(name: string, roomId: number, baseUrl = server.url) {
    const user = await newUserPage()
    await signIn(user, baseUrl, name, `/#/rooms/${roomId}`)
    await waitLive(user.page)
    return user
  }

  it('edits with the Edit button and the Up arrow, seen live in another page', async () => {
    const roomId = await createRoom(server, 'e2e-edit', 'carol')
    const alice = await openRoomAs('alice', roomId)
    const bob = await openRoomAs('bob', roomId)
    await sendMessage(alice.page, 'frist post')
    await sendMessage(alice.page, 'second')
    await waitForBodies(bob.page, ['frist post', 'second'])
    // Only the author may edit, and only the author (or an owner) delete; others may report.
    expect(await actions(bob.page, 1)).toEqual(['React', 'Reply', 'Report'])
    expect(await actions(alice.page, 1)).toEqual(['React', 'Reply', 'Edit', 'Delete'])

    const input = alice.page.getByLabel('Message', { exact: true })
    await input.press('ArrowUp')
    expect(await input.inputValue()).toBe('second')
    await waitForText(alice.page, '#composing-text', 'Editing your message (Escape cancels)')
    await input.fill('second, edited')
    await input.press('Enter')
    await waitForBodies(bob.page, ['frist post', 'second, edited'])
    await waitForText(bob.page, '#messages li[data-seq="2"] .edited', 'edited')
    // The box empties once the server has answered, which may come after the stream's event.
    await waitForValue(() => input.inputValue(), '', 'the message box')
    await alice.page.locator('#composing').waitFor({ state: 'hidden' })

    // Escape gives back what was being written, and changes nothing.
    await input.fill('a draft')
    await act(alice.page, 1, 'Edit')
    expect(await input.inputValue()).toBe('frist post')
    await input.press('Escape')
    expect(await input.inputValue()).toBe('a draft')
    await act(alice.page, 1, 'Edit')
    await input.fill('first post')
    await input.press('Enter')
    await waitForBodies(bob.page, ['first post', 'second, edited'])
    await waitForBodies(alice.page, ['first post', 'second, edited'])
    await waitForValue(() => input.inputValue(), 'a draft', 'the message box')
    expect(await bob.page.locator('#messages .edited').count()).toBe(2)
  })

  it('shows a delete live as "message deleted" without actions; a refused delete says why', async () => {
    const roomId = await createRoom(server, 'e2e-delete', 'alice')
    const setRole = async (role: string) => {
      const response = await server.request(`/rooms/${roomId}/members`, {
        method: 'POST',
        body: JSON.stringify({ user_id: 'carol', role }),
      })
      expect(response.status).toBeLessThan(300)
    }
    await setRole('owner')
    const alice = await openRoomAs('alice', roomId)
    const bob = await openRoomAs('bob', roomId)
    const carol = await openRoomAs('carol', roomId)
    await sendMessage(bob.page, 'oops')
    await sendMessage(bob.page, 'keep me')
    await sendMessage(bob.page, 'and me')
    await waitForBodies(alice.page, ['oops', 'keep me', 'and me'])

    await act(bob.page, 1, 'Delete')
    await act(bob.page, 1, 'Confirm delete')
    await waitForBodies(alice.page, ['message deleted', 'keep me', 'and me'])
    await waitForBodies(carol.page, ['message deleted', 'keep me', 'and me'])
    expect(await actions(alice.page, 1)).toEqual([])
    await waitForBodies(bob.page, ['message deleted', 'keep me', 'and me'])
    expect(await actions(bob.page, 1)).toEqual([])

    // The room's owner may delete anyone's message.
    await waitForValue(
      () => actions(alice.page, 2),
      ['React', 'Reply', 'Delete', 'Report'],
      "the owner's actions",
    )
    await act(alice.page, 2, 'Delete')
    await act(alice.page, 2, 'Confirm delete')
    await waitForBodies(bob.page, ['message deleted', 'message deleted', 'and me'])

    // Carol was an owner when her page opened, and no longer is: the server refuses.
    await waitForValue(
      () => actions(carol.page, 3),
      ['React', 'Reply', 'Delete', 'Report'],
      "carol's actions",
    )
    await setRole('member')
    await act(carol.page, 3, 'Delete')
    await act(carol.page, 3, 'Confirm delete')
    await carol.page.locator('#send-error', { hasText: /^Could not delete the message: .+/ }).waitFor()
    // The browser logs the refused request; nothing else went wrong.
    expect(carol.errors).toEqual([expect.stringContaining('403')])
    carol.errors.length = 0
    await sendMessage(carol.page, 'still working')
    await waitForBodies(bob.page, ['message deleted', 'message deleted', 'and me', 'still working'])
  })

  it('reacts and un-reacts from the picker and the chips, with counts live in every page', async () => {
    const roomId = await createRoom(server, 'e2e-react', 'carol')
    const alice = await openRoomAs('alice', roomId)
    const bob = await openRoomAs('bob', roomId)
    await sendMessage(alice.page, 'react to me')
    await waitForBodies(bob.page, ['react to me'])

    await act(bob.page, 1, 'React')
    await bob.page.getByRole('button', { name: 'React with 👍' }).click()
    await Promise.all([waitForChips(alice.page, 1, ['👍 1']), waitForChips(bob.page, 1, ['👍 1'])])
    // Bob's picker stays open, with its focus, while alice's reaction rebuilds the message.
    await act(bob.page, 1, 'React')
    await item(alice.page, 1).locator('.reactions .chip', { hasText: '👍' }).click()
    await Promise.all([waitForChips(alice.page, 1, ['👍 2']), waitForChips(bob.page, 1, ['👍 2'])])
    expect(await item(alice.page, 1).locator('.reactions .chip').getAttribute('aria-pressed')).toBe('true')
    expect(await bob.page.evaluate<string>(`document.activeElement.getAttribute('aria-label')`)).toBe(
      'React with 👍',
    )
    await bob.page.getByRole('button', { name: 'React with 🎉' }).click()
    await waitForChips(alice.page, 1, ['🎉 1', '👍 2'])
    await item(bob.page, 1).locator('.reactions .chip', { hasText: '👍' }).click()
    await Promise.all([
      waitForChips(alice.page, 1, ['🎉 1', '👍 1']),
      waitForChips(bob.page, 1, ['🎉 1', '👍 1']),
    ])

    // After a reload bob's own reactions are not known until a chip asks for them.
    await bob.page.reload()
    await waitLive(bob.page)
    await waitForChips(bob.page, 1, ['🎉 1', '👍 1'])
    await item(bob.page, 1).locator('.reactions .chip', { hasText: '🎉' }).click()
    await item(alice.page, 1).locator('.reactions .chip', { hasText: '👍' }).click()
    await Promise.all([waitForChips(alice.page, 1, []), waitForChips(bob.page, 1, [])])
  })

  it('replies with a quote of the parent, counts replies, and scrolls to a parent not yet loaded', async () => {
    const roomId = await createRoom(server, 'e2e-reply', 'carol')
    await database.sql`insert into messages (room_id, user_id, user_name, body)
      values (${roomId}, 'ops', 'Ops', 'the question')`
    await database.sql`insert into messages (room_id, user_id, user_name, body)
      select ${roomId}, 'ops', 'Ops', 'filler ' || n from generate_series(2, 61) n`
    const alice = await openRoomAs('alice', roomId)
    const bob = await openRoomAs('bob', roomId)
    await waitForValue(async () => (await shownBodies(bob.page)).length, 50, 'the latest page')

    await act(alice.page, 61, 'Reply')
    await waitForText(alice.page, '#composing-text', 'Replying to Ops: filler 61')
    await sendMessage(alice.page, 'a reply')
    await waitForText(bob.page, '#messages li[data-seq="62"] .quote', 'Reply to Ops: filler 61')
    await waitForText(bob.page, '#messages li[data-seq="61"] .replies', '1 reply')
    expect(await alice.page.locator('#composing').isHidden()).toBe(true)

    // A reply to a message older than the page shown: its quote is fetched.
    await database.sql`insert into messages (room_id, user_id, user_name, body, reply_to)
      values (${roomId}, 'dave', 'Dave', 'the answer', 1)`
    await waitForText(bob.page, '#messages li[data-seq="63"] .quote', 'Reply to Ops: the question')
    expect(await item(bob.page, 1).count()).toBe(0)
    await item(bob.page, 63).locator('.quote').click()
    const parent = item(bob.page, 1)
    await bob.page.locator('#messages li[data-seq="1"].highlighted').waitFor()
    await waitForText(bob.page, '#messages li[data-seq="1"] .replies', '1 reply')
    const inView = await parent.evaluate((element) => {
      const scroller = element.closest('#scroller')!.getBoundingClientRect()
      const box = element.getBoundingClientRect()
      return box.top >= scroller.top && box.bottom <= scroller.bottom
    })
    expect(inView).toBe(true)
    // The highlight is brief.
    await bob.page.locator('#messages li.highlighted').waitFor({ state: 'detached' })
  })

  it('resumes after a dropped connection from its last event, showing every change made meanwhile', async () => {
    const roomId = await createRoom(server, 'e2e-resume', 'carol')
    for (const body of ['one', 'two', 'three']) await postMessage(server, roomId, body, 'bob')
    const react = (seq: number, emoji: string, method: string, as: string) =>
      server.request(`/rooms/${roomId}/messages/${seq}/reactions/${encodeURIComponent(emoji)}`, {
        method,
        as,
      })
    await react(1, '👍', 'PUT', 'bob')
    const alice = await newUserPage()
    const streams: URL[] = []
    alice.page.on('request', (request) => {
      const url = new URL(request.url())
      if (url.pathname === `/rooms/${roomId}/stream`) streams.push(url)
    })
    await signIn(alice, relay.url, 'alice', `/#/rooms/${roomId}`)
    await waitLive(alice.page)
    await waitForChips(alice.page, 1, ['👍 1'])
    // Opened at the page's cursor: three messages and one reaction.
    expect(streams.map((url) => url.searchParams.get('last_event_id'))).toEqual(['4'])
    await react(2, '❤️', 'PUT', 'bob')
    await waitForChips(alice.page, 2, ['❤️ 1'])

    relay.hold()
    await waitForText(alice.page, '#status', 'Reconnecting…')
    await server.request(`/rooms/${roomId}/messages/2`, {
      method: 'PATCH',
      body: JSON.stringify({ body: 'two, edited' }),
      as: 'bob',
    })
    await server.request(`/rooms/${roomId}/messages/3`, { method: 'DELETE', as: 'bob' })
    await react(1, '🎉', 'PUT', 'dave')
    await react(1, '👍', 'DELETE', 'bob')
    await database.sql`update messages set body = 'one, by psql' where room_id = ${roomId} and seq = 1`
    await server.request(`/rooms/${roomId}/messages`, {
      method: 'POST',
      body: JSON.stringify({ body: 'four', reply_to: 1 }),
      as: 'dave',
    })
    relay.release()

    await waitForBodies(alice.page, ['one, by psql', 'two, edited', 'message deleted', 'four'])
    await waitLive(alice.page)
    await waitForChips(alice.page, 1, ['🎉 1'])
    expect(await chips(alice.page, 2)).toEqual(['❤️ 1'])
    expect(await item(alice.page, 1).locator('.edited').count()).toBe(1)
    await waitForText(alice.page, '#messages li[data-seq="4"] .quote', 'Reply to bob: one, by psql')
    await waitForText(alice.page, '#messages li[data-seq="1"] .replies', '1 reply')
    // Resumed after the last change received (the reaction, 5), not the last message's seq (3).
    await until(() => streams.length >= 2, 'a second stream', WAIT_MS)
    expect(streams[1]!.searchParams.get('last_event_id')).toBe('5')

    // Live again, with nothing repeated.
    await react(4, '👀', 'PUT', 'bob')
    await postMessage(server, roomId, 'five', 'bob')
    await waitForBodies(alice.page, ['one, by psql', 'two, edited', 'message deleted', 'four', 'five'])
    await waitForChips(alice.page, 4, ['👀 1'])
    expect(await chips(alice.page, 1)).toEqual(['🎉 1'])
  })
})
