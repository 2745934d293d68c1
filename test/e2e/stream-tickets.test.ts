import type { Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestDatabase, type TestDatabase } from '../support/database.js'
import { createRoom, postMessage, startTestServer, type TestServer } from '../support/server.js'
import { until } from '../support/wait.js'
import {
  CHROMIUM_PATH,
  hasChromium,
  launchChromium,
  newUserPage,
  shownBodies,
  signIn,
  WAIT_MS,
  waitForBodies,
  waitLive,
} from './browser.js'
import { startRelay } from '../support/relay.js'

const title = hasChromium
  ? 'stream tickets in the browser client'
  : `stream tickets in the browser client (skipped: ${CHROMIUM_PATH} is missing; apt-get install chromium)`

describe.skipIf(!hasChromium)(title, { timeout: 60_000 }, () => {
  let database: TestDatabase
  let server: TestServer
  let relay: Awaited<ReturnType<typeof startRelay>>
  let browser: Browser

  beforeAll(async () => {
    database = await createTestDatabase()
    server = await startTestServer(database, { HEARTBEAT_MS: '500' })
    relay = await startRelay(server.port)
    browser = await launchChromium()
  })

  afterAll(async () => {
    await browser?.close()
    await relay?.close()
    await server?.close()
    await database?.drop()
  })

  it('never puts the token in a URL, and resumes after a dropped connection and a renewal', async () => {
    const roomId = await createRoom(server, 'e2e-tickets')
    const user = await newUserPage(browser)
    const { page } = user
    const requested: { method: string; url: URL }[] = []
    page.on('request', (request) => requested.push({ method: request.method(), url: new URL(request.url()) }))
    const streams = () => requested.filter(({ url }) => url.pathname === `/rooms/${roomId}/stream`)
    const sessionToken = () =>
      page.evaluate<string>(`JSON.parse(sessionStorage.getItem('parley.session')).token`)

    await signIn(user, relay.url, 'alice', `/#/rooms/${roomId}`)
    await waitLive(page)
    const tokens = [await sessionToken()]
    await postMessage(server, roomId, 'live', 'bob')
    await waitForBodies(page, ['live'])

    // Every connection drops: the page must buy a new ticket, not let EventSource retry the spent one.
    relay.cut()
    await until(() => streams().length >= 2, 'a second stream', WAIT_MS)
    await waitLive(page)
    await postMessage(server, roomId, 'after the drop', 'bob')
    await waitForBodies(page, ['live', 'after the drop'])

    // A two-second token, put in place of the session's: its stream ends with `expired`.
    const shortToken = await server.token('alice', 'alice', '2s')
    tokens.push(shortToken)
    await page.evaluate(`{
      const session = JSON.parse(sessionStorage.getItem('parley.session'))
      sessionStorage.setItem('parley.session', JSON.stringify({ ...session, token: ${JSON.stringify(shortToken)} }))
    }`)
    await page.reload()
    await until(() => streams().length >= 4, 'a stream after the renewal', WAIT_MS)
    await waitLive(page)
    tokens.push(await sessionToken())
    expect(tokens[2]).not.toBe(shortToken)
    await postMessage(server, roomId, 'after the renewal', 'bob')
    await waitForBodies(page, ['live', 'after the drop', 'after the renewal'])
    expect(await shownBodies(page)).toEqual(['live', 'after the drop', 'after the renewal'])

    for (const { url } of requested) {
      expect(url.searchParams.has('access_token'), url.href).toBe(false)
      expect(url.href, url.href).not.toMatch(/eyJ[\w-]*\.[\w-]*\./)
      for (const token of tokens) expect(url.href.includes(token), url.href).toBe(false)
    }
    const tickets = streams().map(({ url }) => url.searchParams.get('ticket'))
    expect(tickets.every((ticket) => /^[\w-]{43}$/.test(ticket ?? ''))).toBe(true)
    expect(new Set(tickets).size).toBe(tickets.length)
    const bought = requested.filter(
      ({ method, url }) => method === 'POST' && url.pathname === '/stream-tickets',
    )
    expect(bought.length).toBeGreaterThanOrEqual(tickets.length)
    // The stream after the drop resumed right after the one message shown.
    expect(streams()[1]!.url.searchParams.get('last_event_id')).toBe('1')
    expect(user.dialogs).toEqual([])
    expect(user.errors).toEqual([])
    await user.context.close()
  })
})
