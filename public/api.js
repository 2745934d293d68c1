// The session (kept in sessionStorage: one per tab, gone when the tab closes) and every
// REST call. A 401 gets one fresh token and one retry.

const STORAGE_KEY = 'parley.session'

/** An API error: the server's `{"error":{"code","message"}}`, with the HTTP status. */
export class ApiError extends Error {
  constructor(status, code, message, retryAfterS) {
    super(message)
    this.status = status
    this.code = code
    this.retryAfterS = retryAfterS
  }
}

let session = loadSession()
let refreshing
/** Resolves with a new pasted token once the user gives one; set by app.js. */
let askForToken = () => Promise.reject(new Error('Sign in again'))

function loadSession() {
  try {
    return JSON.parse(sessionStorage.getItem(STORAGE_KEY) ?? 'null')
  } catch {
    return null
  }
}

function saveSession(next) {
  session = next
  sessionStorage.setItem(STORAGE_KEY, JSON.stringify(next))
}

/** `{ mode: 'dev' | 'token', token, user_id, user_name, name? }`, or null when signed out. */
export const currentSession = () => session

export function signOut() {
  session = null
  sessionStorage.removeItem(STORAGE_KEY)
}

export function setTokenPrompt(prompt) {
  askForToken = prompt
}

async function toApiError(response) {
  const body = await response.json().catch(() => undefined)
  const retryAfter = Number(response.headers.get('retry-after')) || undefined
  return new ApiError(
    response.status,
    body?.error?.code ?? 'http_error',
    body?.error?.message ?? `The server answered ${response.status}`,
    retryAfter,
  )
}

/** Whether this server signs development tokens: its API description lists POST /dev/token only then. */
export async function devSignInAvailable() {
  const response = await fetch('/openapi.json')
  if (!response.ok) return false
  const spec = await response.json()
  return Boolean(spec.paths?.['/dev/token'])
}

/** Development sign-in: a one-hour token for a name, from POST /dev/token. */
export async function signInWithName(name) {
  const response = await fetch('/dev/token', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name }),
  })
  if (!response.ok) throw await toApiError(response)
  const issued = await response.json()
  saveSession({
    mode: 'dev',
    name,
    token: issued.token,
    user_id: issued.user_id,
    user_name: issued.user_name,
  })
}

/** Sign-in with a token from elsewhere; the server checks it before it is kept. */
export async function signInWithToken(token) {
  const trimmed = token.trim()
  const claims = readClaims(trimmed)
  const response = await fetch('/rooms', { headers: { authorization: `Bearer ${trimmed}` } })
  if (!response.ok) throw await toApiError(response)
  saveSession({
    mode: 'token',
    token: trimmed,
    user_id: claims.sub,
    user_name: typeof claims.name === 'string' && claims.name.trim() ? claims.name.trim() : claims.sub,
  })
}

/** The payload of a JWT, only to show who we are; the server is what verifies it. */
function readClaims(token) {
  const payload = token.split('.')[1]
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
      if (session.mode === 'dev') await signInWithName(session.name)
      else await askForToken()
    } finally {
      refreshing = undefined
    }
  })()
  return refreshing
}

/** A REST call as the signed-in user; resolves with the JSON body (undefined for 204). */
export async function api(path, { method = 'GET', body } = {}) {
  for (let attempt = 0; ; attempt++) {
    const headers = { authorization: `Bearer ${session?.token ?? ''}` }
    if (body !== undefined) headers['content-type'] = 'application/json'
    const response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    })
    if (response.status === 401 && attempt === 0 && session) {
      await refreshToken()
      continue
    }
    if (!response.ok) throw await toApiError(response)
    return response.status === 204 ? undefined : response.json()
  }
}
