import { existsSync } from 'node:fs'
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core'
import { afterAll, afterEach, beforeAll, describe, expect } from 'vitest'
import { until } from '../support/wait.js'

/** Debian's Chromium: CI installs it with apt; Playwright's own browser downloads are never used. */
const CHROMIUM_PATH = '/usr/bin/chromium'
const hasChromium = existsSync(CHROMIUM_PATH)
/** On CI a missing Chromium fails the browser tests: a run that skipped them would prove nothing. */
const mustRun = ['true', '1'].includes(process.env.CI ?? '')

/** Every bounded wait in the browser tests. */
export const WAIT_MS = 10_000

/**
 * A block of browser tests. Without Chromium it is skipped with the reason in its title,
 * except on CI (CI=true), where it runs and fails at launch.
 */
export function describeInBrowser(title: string, body: () => void) {
  const skip = !hasChromium && !mustRun
  const shown = skip ? `${title} (skipped: ${CHROMIUM_PATH} is missing; apt-get install chromium)` : title
  describe.skipIf(skip)(shown, { timeout: 60_000 }, body)
}

/**
 * Chromium for the file's tests, launched once. `newUserPage()` opens a page in a fresh
 * browser context (one user); after each test every page it opened is checked for
 * dialogs and page errors, then closed.
 */
export function useBrowser() {
  let browser: Browser | undefined
  const opened: UserPage[] = []

  beforeAll(async () => {
    browser = await launchChromium()
  })

  afterEach(async () => {
    const users = opened.splice(0)
    try {
      // No test may have opened a dialog (an executed script) or thrown in a page.
      for (const user of users) {
        expect(user.dialogs).toEqual([])
        expect(user.errors).toEqual([])
      }
    } finally {
      await Promise.all(users.map((user) => user.context.close()))
    }
  })

  afterAll(async () => {
    await browser?.close()
  })

  return {
    async newUserPage(viewport?: { width: number; height: number }): Promise<UserPage> {
      if (!browser) throw new Error('useBrowser: Chromium has not been launched')
      const user = await openUserPage(browser, viewport)
      opened.push(user)
      return user
    },
  }
}

function launchChromium(): Promise<Browser> {
  if (!hasChromium) {
    throw new Error(
      `${CHROMIUM_PATH} is missing (apt-get install chromium); with CI=true the browser tests never skip`,
    )
  }
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  })
}

/** A page of its own browser context (its own sessionStorage: one user), with what went wrong in it. */
export interface UserPage {
  context: BrowserContext
  page: Page
  /** Messages of dialogs that opened (an XSS would open one); they are dismissed. */
  dialogs: string[]
  /** Uncaught exceptions and console errors in the page. */
  errors: string[]
}

async function openUserPage(browser: Browser, viewport = { width: 1000, height: 720 }): Promise<UserPage> {
  const context = await browser.newContext({ viewport })
  context.setDefaultTimeout(WAIT_MS)
  const page = await context.newPage()
  const dialogs: string[] = []
  const errors: string[] = []
  page.on('dialog', (dialog) => {
    dialogs.push(dialog.message())
    void dialog.dismiss()
  })
  page.on('pageerror', (error) => errors.push(error.message))
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(message.text())
  })
  return { context, page, dialogs, errors }
}

/** Signs in on the development form as `name`, starting at `path` (the lobby, or a room's #/rooms/:id). */
export async function signIn(user: UserPage, baseUrl: string, name: string, path = '/'): Promise<void> {
  const { page } = user
  await page.goto(`${baseUrl}${path}`)
  const field = page.getByLabel('Your name')
  await field.waitFor({ timeout: WAIT_MS })
  await field.fill(name)
  await field.press('Enter')
  await page.locator('#account').waitFor({ timeout: WAIT_MS })
}

/** Waits until the room view's status line says Live. */
export async function waitLive(page: Page): Promise<void> {
  await page.locator('#status[data-state="live"]').waitFor({ timeout: WAIT_MS })
}

/** The bodies of the messages the room view shows, top to bottom. */
export function shownBodies(page: Page): Promise<string[]> {
  return page.locator('#messages .body').allTextContents()
}

/** Waits until `read()` answers `expected` (compared as JSON), polling the page; bounded by WAIT_MS. */
export async function waitForValue<T>(read: () => Promise<T>, expected: T, what: string): Promise<void> {
  let last: T | undefined
  const wanted = JSON.stringify(expected)
  await until(
    async () => {
      last = await read()
      return JSON.stringify(last) === wanted
    },
    `${what} to be ${wanted}`,
    WAIT_MS,
  ).catch((error: Error) => {
    throw new Error(`${error.message}; last seen ${JSON.stringify(last)}`)
  })
}

/** Waits until the room view shows exactly `bodies`, in this order. */
export function waitForBodies(page: Page, bodies: string[]): Promise<void> {
  return waitForValue(() => shownBodies(page), bodies, 'the messages shown')
}

/** Waits until `selector`'s text is exactly `text` ('' for empty). */
export function waitForText(page: Page, selector: string, text: string): Promise<void> {
  return waitForValue(async () => (await page.locator(selector).textContent()) ?? '', text, selector)
}

/** Waits until the presence list shows exactly these user ids. */
export function waitForPresent(page: Page, userIds: string[]): Promise<void> {
  // One evaluation reads the whole list: it is re-rendered as users come and go.
  const read = () =>
    page
      .locator('#presence-list li')
      .evaluateAll((items) => items.map((item) => item.getAttribute('data-user-id')))
  return waitForValue(read, userIds, 'the users present')
}

/** Types into the send box and presses Enter, as a user does; resolves once the page shows it as sent. */
export async function sendMessage(page: Page, body: string): Promise<void> {
  const input = page.getByLabel('Message', { exact: true })
  await input.fill(body)
  await input.press('Enter')
  // Shown from the POST's answer, so it has its seq: a message sent next cannot overtake it.
  const mine = page.locator('#messages .message.mine .body')
  await until(async () => (await mine.allTextContents()).includes(body), `"${body}" to be sent`, WAIT_MS)
}
