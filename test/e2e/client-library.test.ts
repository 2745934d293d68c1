import type { Page } from 'playwright-core'
import { expect, it } from 'vitest'
import { useTestServer } from '../support/fixtures.js'
import { range } from '../support/range.js'
import { useRelay } from '../support/relay.js'
import { createRoom, postMessage } from '../support/server.js'
import { until } from '../support/wait.js'
import { describeInBrowser, useBrowser, WAIT_MS } from './browser.js'

/** What the page's stream recorded, read back from the page. */
interface PageLog {
  seqs: number[]
  states: string[]
  errors: string[]
}

describeInBrowser('the client library in Chromium', () => {
  const { server } = useTestServer()
  const relay = useRelay(server)
  const { newUserPage } = useBrowser()

  /** Loads public/parley-client.js as the page's own module and opens room `roomId`'s stream with it. */
  async function streamInPage(page: Page, roomId: number, token: string) {
    await page.goto(`${relay.url}/`)
    // Plain page script, as a browser app would write it; the module comes from the server.
    await page.evaluate(`(async () => {
      const { createClient, ParleyError } = await import('/parley-client.js')
      const log = { seqs: [], states: [], errors: [] }
      window.log = log
      const client = createClient({ baseUrl: '', getToken: () => ${JSON.stringify(token)} })
      await client.rooms.get(999999).catch((error) => {
        if (error instanceof ParleyError) log.errors.push(error.status + ' ' + error.code)
      })
      client.rooms.stream(
        ${roomId},
        { message: (message) => log.seqs.push(message.seq), state: (state) => log.states.push(state) },
        { backoff: { baseMs: 50, capMs: 500 } },
      )
    })()`)
  }

  const pageLog = (page: Page) => page.evaluate<PageLog>('window.log')

  it('loads as a module, streams, and resumes after every connection drops', async () => {
    const roomId = await createRoom(server, 'e2e-library')
    const { page, errors } = await newUserPage()
    await streamInPage(page, roomId, await server.token('bob'))
    await until(async () => (await pageLog(page)).states.includes('open'), 'the stream to open', WAIT_MS)
    for (let i = 1; i <= 3; i++) await postMessage(server, roomId, `before ${i}`)
    await until(async () => (await pageLog(page)).seqs.length === 3, 'three messages', WAIT_MS)

    relay.hold()
    for (let i = 1; i <= 3; i++) await postMessage(server, roomId, `while away ${i}`)
    relay.release()
    await postMessage(server, roomId, 'after')
    await until(async () => (await pageLog(page)).seqs.length >= 7, 'seven messages', WAIT_MS)

    const log = await pageLog(page)
    expect(log.seqs).toEqual(range(1, 7))
    expect(log.errors).toEqual(['404 room_not_found'])
    expect(log.states.slice(0, 3)).toEqual(['connecting', 'open', 'reconnecting'])
    expect(log.states.at(-1)).toBe('open')
    // The failed room lookup logs a 404 in the console; nothing else went wrong.
    expect(errors.filter((error) => !error.includes('404'))).toEqual([])
    errors.length = 0
  })
})
