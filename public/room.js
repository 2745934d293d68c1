// The room view: the latest history over REST, then one stream resuming right after it;
// older pages on scrolling up; read marks while the tab has focus.

import { api, ApiError, currentSession } from './api.js'
import { wireComposer } from './composer.js'
import { createMessageList } from './messages.js'
import { createPresenceList, createReceipts, createTypingIndicator, createTypingSender } from './social.js'
import { connectRoomStream } from './stream.js'
import { byId, showError } from './ui.js'

const PAGE_SIZE = 50
const STATUS_TEXT = { connecting: 'Connecting…', live: 'Live', reconnecting: 'Reconnecting…' }
const GONE_TEXT = {
  removed: 'You were removed from this room.',
  not_found: 'This room does not exist, or is private.',
}

/** Opens room `roomId` in the room view; returns `{ close }` for when the user leaves it. */
export function openRoom(roomId) {
  const me = currentSession().user_id
  const view = {
    title: byId('room-title'),
    status: byId('status'),
    scroller: byId('scroller'),
    older: byId('load-older'),
    form: byId('send-form'),
    input: byId('message-input'),
    send: byId('send-button'),
    error: byId('send-error'),
  }
  const listening = new AbortController()
  const { signal } = listening
  const names = new Map()
  const messages = createMessageList(view.scroller, byId('messages'), me, names, onVisible)
  const typingOut = createTypingSender(roomId)
  const typingIn = createTypingIndicator(byId('typing'))
  let staleTimer
  const presence = createPresenceList(byId('presence-list'), me, names, () => {
    clearTimeout(staleTimer)
    staleTimer = setTimeout(() => void refreshSocial(), 500)
  })
  const receipts = createReceipts(messages, me, names)
  let stream
  let closed = false
  let hasMore = false
  let loadingOlder = false
  let visibleMax = 0
  let markedRead = 0

  function setStatus(state, text = STATUS_TEXT[state]) {
    view.status.dataset.state = state
    view.status.textContent = text
  }

  function setSendable(enabled) {
    view.input.disabled = !enabled
    view.send.disabled = !enabled
  }

  function gone(reason) {
    stream?.stop()
    typingIn.clear()
    setStatus('gone', GONE_TEXT[reason])
    setSendable(false)
  }

  function showLive(message, options) {
    if (messages.showLive(message, options)) receipts.render()
  }

  function setHasMore(more) {
    hasMore = more
    view.older.hidden = !more
    // Observed afresh, the button is reported again if it is still in view (a short page).
    if (more) messages.reobserve(view.older)
    else messages.unobserve(view.older)
  }

  async function loadOlder() {
    if (!hasMore || loadingOlder || closed) return
    loadingOlder = true
    view.scroller.setAttribute('aria-busy', 'true')
    try {
      const page = await api(`/rooms/${roomId}/messages?limit=${PAGE_SIZE}&before=${messages.oldestSeq()}`)
      if (closed) return
      messages.showOlder(page.messages)
      receipts.render()
      setHasMore(page.has_more)
    } catch (error) {
      showError(view.error, error)
    } finally {
      loadingOlder = false
      view.scroller.removeAttribute('aria-busy')
    }
  }

  function onVisible(entries) {
    for (const entry of entries) {
      if (!entry.isIntersecting) continue
      if (entry.target === view.older) void loadOlder()
      else visibleMax = Math.max(visibleMax, Number(entry.target.dataset.seq))
    }
    void markRead()
  }

  /** Tells the server how far we have read: only what was on screen while the tab had focus. */
  async function markRead() {
    if (closed || visibleMax <= markedRead) return
    if (document.visibilityState !== 'visible' || !document.hasFocus()) return
    markedRead = visibleMax
    await api(`/rooms/${roomId}/read`, { method: 'POST', body: { seq: markedRead } }).catch(() => {})
    if (visibleMax > markedRead) void markRead()
  }

  /** Who is here and who read what, afresh on every (re)connect: events may have been missed. */
  async function refreshSocial() {
    presence.requested()
    try {
      const [here, reads] = await Promise.all([
        api(`/rooms/${roomId}/presence`),
        api(`/rooms/${roomId}/reads`),
      ])
      if (closed) return
      presence.reset(here.users, here.count)
      receipts.reset(reads.reads)
    } catch {
      presence.reset()
    }
  }

  const streamHandlers = {
    message(message) {
      typingIn.remove(message.user_id)
      showLive(message)
    },
    event(type, data) {
      if (type === 'open') void refreshSocial()
      else if (type === 'presence') presence.update(data)
      else if (type === 'typing') typingIn.update(data)
      else if (type === 'read') receipts.update(data)
    },
    status: setStatus,
    gone,
  }

  async function start() {
    try {
      const room = await api(`/rooms/${roomId}`)
      if (closed) return
      view.title.textContent = room.name
      document.title = `${room.name} · Parley`
      // Members are listed in read receipts; joining a public room makes us one.
      if (room.visibility === 'public') await api(`/rooms/${roomId}/join`, { method: 'POST' })
      const page = await api(`/rooms/${roomId}/messages?limit=${PAGE_SIZE}`)
      if (closed) return
      messages.showLatest(page.messages)
      setHasMore(page.has_more)
      // Resumes right after the history shown: nothing in between is missed or repeated.
      stream = connectRoomStream(roomId, messages.newestSeq() ?? 0, streamHandlers)
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) gone('not_found')
      else setStatus('gone', `Could not open the room: ${error.message}`)
    }
  }

  view.title.textContent = 'Loading…'
  view.older.hidden = true
  presence.reset([])
  typingIn.clear()
  showError(view.error, '')
  setStatus('connecting')
  setSendable(true)
  wireComposer(view, {
    roomId,
    typing: typingOut,
    onSent: (message) => showLive(message, { follow: true }),
    signal,
  })
  view.older.addEventListener('click', () => void loadOlder(), { signal })
  window.addEventListener('focus', () => void markRead(), { signal })
  document.addEventListener('visibilitychange', () => void markRead(), { signal })
  void start()

  return {
    close() {
      closed = true
      stream?.stop()
      typingOut.stop()
      typingIn.clear()
      messages.clear()
      listening.abort()
    },
  }
}
