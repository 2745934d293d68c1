// @ts-check
// Entry point: sign-in, and a hash router between the lobby (#/) and a room (#/rooms/7).

import {
  currentSession,
  devSignInAvailable,
  setTokenPrompt,
  signInWithName,
  signInWithToken,
  signOut,
} from './api.js'
import { showLobby, wireCreateRoom, wireStartDm } from './lobby.js'
import { wireSearch } from './search.js'
import { openRoom } from './room.js'
import { byId, showError } from './ui.js'

const views = { signin: byId('signin-view'), lobby: byId('lobby-view'), room: byId('room-view') }
/** @type {ReturnType<typeof openRoom> | undefined} */
let room

/** @param {keyof typeof views} name */
function show(name) {
  for (const [key, view] of Object.entries(views)) view.hidden = key !== name
}

async function route() {
  room?.close()
  room = undefined
  const session = currentSession()
  byId('account').hidden = !session
  if (!session) {
    document.title = 'Sign in · Parley'
    show('signin')
    return
  }
  byId('whoami').textContent = `${session.user_name} (${session.user_id})`
  // #/rooms/7, or #/rooms/7/messages/42 to open the room at one message (a search result).
  const match = /^#\/rooms\/([1-9][0-9]*)(?:\/messages\/([1-9][0-9]*))?$/.exec(window.location.hash)
  if (match) {
    show('room')
    room = openRoom(Number(match[1]), match[2] === undefined ? undefined : Number(match[2]))
    byId('message-input').focus()
  } else {
    document.title = 'Rooms · Parley'
    show('lobby')
    byId('lobby-title').focus()
    await showLobby()
  }
}

function wireSignIn() {
  const error = byId('signin-error')
  const devForm = byId('dev-signin', HTMLFormElement)
  devForm.addEventListener('submit', async (event) => {
    event.preventDefault()
    showError(error, '')
    try {
      await signInWithName(byId('dev-name', HTMLInputElement).value)
      await route()
    } catch (failure) {
      showError(error, failure)
    }
  })
  byId('token-signin').addEventListener('submit', async (event) => {
    event.preventDefault()
    showError(error, '')
    try {
      const input = byId('token-input', HTMLTextAreaElement)
      await signInWithToken(input.value)
      input.value = ''
      await route()
    } catch (failure) {
      showError(error, failure)
    }
  })
  devSignInAvailable()
    .then((available) => {
      devForm.hidden = !available
      byId('token-intro').textContent = available
        ? 'Or paste an access token (JWT):'
        : 'Paste an access token (JWT):'
    })
    .catch(() => {})
}

/**
 * With a pasted token there is no way to renew it but to ask: this form does, and resolves when one works.
 * @returns {Promise<void>}
 */
function askForNewToken() {
  const form = byId('reauth', HTMLFormElement)
  const input = byId('reauth-token', HTMLTextAreaElement)
  const error = byId('reauth-error')
  form.hidden = false
  input.focus()
  return new Promise((resolve) => {
    /** @param {SubmitEvent} event */
    const submit = async (event) => {
      event.preventDefault()
      showError(error, '')
      try {
        await signInWithToken(input.value)
        input.value = ''
        form.hidden = true
        form.removeEventListener('submit', submit)
        resolve()
      } catch (failure) {
        showError(error, failure)
      }
    }
    form.addEventListener('submit', submit)
  })
}

byId('sign-out').addEventListener('click', () => {
  room?.close()
  room = undefined
  signOut()
  byId('reauth').hidden = true
  window.location.hash = '#/'
  void route()
})

setTokenPrompt(askForNewToken)
wireSignIn()
wireCreateRoom()
wireStartDm()
wireSearch()
window.addEventListener('hashchange', () => void route())
window.addEventListener('focus', () => {
  if (!room && currentSession()) void showLobby()
})
void route()
