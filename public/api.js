// @ts-check
// The session (kept in sessionStorage: one per tab, gone when the tab closes) and the
// client library, which makes every REST call and opens every stream with the session's
// token, and asks for a new one (refreshToken below) after a 401 or an expired stream.

import { createClient, ParleyError } from './parley-client.js'

const STORAGE_KEY = 'parley.session'

/** An API error: the server's `{"error":{"code","message"}}`, with `status` and `retryAfter`. */
export { ParleyError as ApiError }

/**
 * @typedef {object} Session
 * @property {'dev' | 'token'} mode
 * @property {string} token
 * @property {string} user_id
 * @property {string} user_name
 * @property {string} [name] what the user signed in as, for the dev endpoint to sign again
 */

let session = loadSession()
/** @type {Promise<void> | undefined} */
let refreshing
/**
 * Resolves with a new pasted token once the user gives one; set by app.js.
 * @type {() => Promise<void>}
 */
let askForToken = () => Promise.reject(new Error('Sign in again'))

/** @returns {Session | null} */
function loadSession() {
  try {
    return JSON.parse(sessionStorage.getItem(STORAGE_KEY) ?? 'null')
  } catch {
    return null
  }
}

/** @param {Session} next */
function saveSession(next) {
  session = next
  sessionStorage.setItem(STORAGE_KEY, JSON.stringify(next))
}

/** The signed-in user's session, or null when signed out. */
export const currentSession = () => session

export function signOut() {
  session = null
  sessionStorage.removeItem(STORAGE_KEY)
}

/** @param {() => Promise<void>} prompt */
export function setTokenPrompt(prompt) {
  askForToken = prompt
}

/**
 * The page's client: same-origin calls with the session's token; a renewal gets a new one
 * from the dev endpoint or from the user. Signed out, calls go without one and get 401.
 */
export const client = createClient({
  baseUrl: '',
  async getToken({ renew }) {
    if (renew && session) await refreshToken()
    return session?.token ?? ''
  },
})

/** Whether this server signs development tokens: its API description lists POST /dev/token only then. */
export async function devSignInAvailable() {
  const response = await fetch('/openapi.json')
  if (!response.ok) return false
  const spec = await response.json()
  return Boolean(spec.paths?.['/dev/token'])
}

/**
 * Development sign-in: a one-hour token for a name, from POST /dev/token.
 * @param {string} name
 */
export async function signInWithName(name) {
  const issued = await client.devToken({ name })
  saveSession({
    mode: 'dev',
    name,
    token: issued.token,
    user_id: issued.user_id,
    user_name: issued.user_name,
  })
}

/**
 * Sign-in with a token from elsewhere; the server checks it before it is kept.
 * @param {string} token
 */
export async function signInWithToken(token) {
  const trimmed = token.trim()
  const claims = readClaims(trimmed)
  await createClient({ baseUrl: '', getToken: () => trimmed }).rooms.list({ limit: 1 })
  saveSession({
    mode: 'token',
    token: trimmed,
    user_id: claims.sub,
    user_name: typeof claims.name === 'string' && claims.name.trim() ? claims.name.trim() : claims.sub,
  })
}

/**
 * The payload of a JWT, only to show who we are; the server is what verifies it.
 * @param {string} token
 * @returns {{ sub: string, name?: unknown }}
 */
function readClaims(token) {
  const payload = token.split('.')[1] ?? ''
  try {
    const binary = atob(payload.replace(/-/g, '+').replace(/_/g, '/'))
    const claims = JSON.parse(new TextDecoder().decode(Uint8Array.from(binary, (char) => char.charCodeAt(0))))
    if (typeof claims.sub === 'string' && claims.sub) return claims
  } catch {
    // Falls through to the error below.
  }
  throw new Error('That does not look like a JWT with a subject')
}

/**
 * A fresh token: from the dev endpoint again, or pasted by the user. Calls made while one
 * refresh is under way share it.
 */
export function refreshToken() {
  refreshing ??= (async () => {
    try {
      if (!session) throw new Error('Signed out')
      if (session.mode === 'dev') await signInWithName(session.name ?? session.user_name)
      else await askForToken()
    } finally {
      refreshing = undefined
    }
  })()
  return refreshing
}
