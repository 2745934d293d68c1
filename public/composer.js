// The send box: Enter sends, Shift+Enter starts a new line; typing on/off goes out as the
// user types; a failed send keeps the text and says why.

import { api, ApiError } from './api.js'
import { showError } from './ui.js'

const ATTEMPTS = 3

/** Posts `body`, retrying network and server failures with the same client_id. */
async function postMessage(roomId, body) {
  // One client_id for every attempt: a retry after a lost answer returns the original.
  const clientId = newClientId()
  for (let attempt = 1; ; attempt++) {
    try {
      return await api(`/rooms/${roomId}/messages`, { method: 'POST', body: { body, client_id: clientId } })
    } catch (error) {
      const retryable = !(error instanceof ApiError) || error.status >= 500
      if (!retryable || attempt === ATTEMPTS) throw error
      await new Promise((resolve) => setTimeout(resolve, 500 * attempt))
    }
  }
}

function newClientId() {
  // randomUUID exists only in secure contexts (https, localhost).
  if (window.crypto?.randomUUID) return window.crypto.randomUUID()
  return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`
}

/** Wires the send form for room `roomId` until `signal` aborts; `onSent(message)` gets each stored message. */
export function wireComposer({ form, input, error }, { roomId, typing, onSent, signal }) {
  form.addEventListener(
    'submit',
    async (event) => {
      event.preventDefault()
      const body = input.value.trim()
      if (!body) return
      input.value = ''
      typing.stop()
      showError(error, '')
      try {
        onSent(await postMessage(roomId, body))
      } catch (failure) {
        if (signal.aborted) return
        if (!input.value) input.value = body
        const wait =
          failure instanceof ApiError && failure.retryAfterS ? ` (try again in ${failure.retryAfterS} s)` : ''
        showError(error, `Not sent: ${failure.message}${wait}`)
      }
    },
    { signal },
  )
  input.addEventListener(
    'keydown',
    (event) => {
      if (event.key !== 'Enter' || event.shiftKey || event.isComposing) return
      event.preventDefault()
      form.requestSubmit()
    },
    { signal },
  )
  input.addEventListener('input', () => typing.input(input.value), { signal })
}
