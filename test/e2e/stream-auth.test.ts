import { expect, it } from 'vitest'
import { useTestServer } from '../support/fixtures.js'
import { createRoom, postMessage } from '../support/server.js'
import { until } from '../support/wait.js'
import {
  describeInBrowser,
  shownBodies,
  signIn,
  useBrowser,
  WAIT_MS,
  waitForBodies,
  waitLive,
} from './browser.js'
import { useRelay } from '../support/relay.js'

describeInBrowser('stream authentication in the browser client', () => {
  const { server } = useTestServer({ env: { HEARTBEAT_MS: '500' } })
  const relay = useRelay(server)
  const { newUserPage } = useBrowser()

  it('sends the token in a header, never in a URL, and resumes after a dropped connection and a renewal', async () => {
    const roomId = await createRoom(server, 'e2e-stream-auth')
    const user = await newUserPage()
    const { page } = user
    const requested: { method: string; url: URL; authorization: Promise<string | undefined> }[] = []
    page.on('request', (request) =>
      requested.push({
        method: request.method(),
        url: new URL(request.url()),
        // Read while the page is open; a request made as it closes has none to give.
        authorization: request.allHeaders().then(
          (headers) => headers.authorization,
          () => undefined,
        ),
      }),
    )
    const streams = () => requested.filter(({ url }) => url.pathname === `/rooms/${roomId}/stream`)
    const sessionToken = () =>
      page.evaluate<string>(`JSON.parse(sessionStorage.getItem('parley.session')).token`)

    await signIn(user, relay.url, 'alice', `/#/rooms/${roomId}`)
    await waitLive(page)
    const tokens = [await sessionToken()]
    await postMessage(server, roomId, 'live', 'bob')
    await waitForBodies(page, ['live'])

    // Every connection drops: the page reconnects with the token it has, from where it stopped.
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
      expect(url.searchParams.get('access_token'), url.href).toBeNull()
      expect(url.href, url.href).not.toMatch(/eyJ[\w-]*\.[\w-]*\./)
      for (const token of tokens) expect(url.href).not.toContain(token)
    }
    // Each stream carried a token the page held, in its Authorization header; no ticket was bought.
    for (const stream of streams()) {
      expect(stream.url.searchParams.has('ticket')).toBe(false)
      expect(tokens.map((token) => `Bearer ${token}`)).toContain(await stream.authorization)
    }
    expect(requested.filter(({ url }) => url.pathname === '/stream-tickets')).toEqual([])
    // The stream after the drop resumed right after the one message shown.
    expect(streams()[1]!.url.searchParams.get('last_event_id')).toBe('1')
    // Checked and closed now: the page's renewals after this point are not the test's subject.
    expect(user.dialogs).toEqual([])
    expect(user.errors).toEqual([])
    await user.context.close()
  })
})
