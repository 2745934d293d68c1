// @ts-check
// The room view: the latest history over REST, then one stream resuming right after it;
// older pages on scrolling up; read marks while the tab has focus; what a message's
// buttons do is in message-actions.js, the send box in composer.js.

import { ApiError, client, currentSession } from './api.js'
import { wireComposer } from './composer.js'
import { wireMessageActions } from './message-actions.js'
import { createMessageList } from './messages.js'
import { wireModeration } from './moderation.js'
import { createPresenceList, createReceipts, createTypingIndicator, createTypingSender } from './social.js'
import { connectRoomStream } from './stream.js'
import { byId, showError } from './ui.js'

/** @typedef {import('./stream.js').Status | 'gone'} State */

const PAGE_SIZE = 50
/** @type {Record<string, string>} */
const STATUS_TEXT = { connecting: 'Connecting…', live: 'Live', reconnecting: 'Reconnecting…' }
const GONE_TEXT = {
  removed: 'You were removed from this room.',
  not_found: 'This room does not exist, or is private.',
  unauthorized: 'Your sign-in is no longer accepted: sign in again to follow this room.',
}

/**
 * Opens room `roomId` in the room view, scrolled to message `focusSeq` and marking it when
 * given; returns `{ close }` for when the user leaves it.
 *
 * @param {number} roomId
 * @param {number} [focusSeq]
 */
export function openRoom(roomId, focusSeq) {
  let view = openRoomView(roomId, focusSeq, reload)
  // The history shown is older than what the server keeps: the room is opened afresh, its
  // latest page and a stream resuming right after it, as when it was first opened.
  function reload() {
    view.close()
    view = openRoomView(roomId, undefined, reload)
  }
  return { close: () => view.close() }
}

/**
 * @param {number} roomId
 * @param {number | undefined} focusSeq
 * @param {() => void} reload
 */
function openRoomView(roomId, focusSeq, reload) {
  const me = currentSession()?.user_id ?? ''
  const view = {
    title: byId('room-title'),
    status: byId('status'),
    scroller: byId('scroller'),
    older: byId('load-older'),
    form: byId('send-form', HTMLFormElement),
    input: byId('message-input', HTMLTextAreaElement),
    send: byId('send-button', HTMLButtonElement),
    error: byId('send-error'),
    context: { line: byId('composing'), text: byId('composing-text'), cancel: byId('composing-cancel') },
    mentionOptions: byId('mention-options'),
  }
  const listening = new AbortController()
  const { signal } = listening
  /** @type {Map<string, string>} */
  const names = new Map()
  const messages = createMessageList(view.scroller, byId('messages'), {
    me,
    names,
    onVisible,
    fetchMessage: (seq) => client.messages.get(roomId, seq),
  })
  const typingOut = createTypingSender(roomId)
  const typingIn = createTypingIndicator(byId('typing'))
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let staleTimer
  const presence = createPresenceList(byId('presence-list'), me, names, () => {
    clearTimeout(staleTimer)
    staleTimer = setTimeout(() => void refreshSocial(), 500)
  })
  const receipts = createReceipts(messages, me, names)
  /** @type {ReturnType<typeof connectRoomStream> | undefined} */
  let stream
  let closed = false
  let hasMore = false
  /** @type {Promise<boolean> | undefined} */
  let loadingOlder
  let visibleMax = 0
  let markedRead = 0

  /**
   * @param {State} state
   * @param {string} [text]
   */
  function setStatus(state, text = STATUS_TEXT[state]) {
    view.status.dataset.state = state
    view.status.textContent = text ?? ''
  }

  /** @param {boolean} enabled */
  function setSendable(enabled) {
    view.input.disabled = !enabled
    view.send.disabled = !enabled
  }

  /** @param {'removed' | 'not_found' | 'unauthorized'} reason */
  function gone(reason) {
    stream?.stop()
    typingIn.clear()
    setStatus('gone', GONE_TEXT[reason])
    setSendable(false)
  }

  /**
   * @param {import('./parley-client.js').Message} message
   * @param {{ follow?: boolean }} [options]
   */
  function showLive(message, options) {
    if (messages.showLive(message, options)) receipts.render()
  }

  /** @param {boolean} more */
  function setHasMore(more) {
    hasMore = more
    view.older.hidden = !more
    // Observed afresh, the button is reported again if it is still in view (a short page).
    if (more) messages.reobserve(view.older)
    else messages.unobserve(view.older)
  }

  /**
   * Loads the next older page; calls made while one is on its way wait for that one.
   * Resolves with whether a page came.
   */
  function loadOlder() {
    if (!hasMore || closed) return Promise.resolve(false)
    loadingOlder ??= fetchOlder().finally(() => {
      loadingOlder = undefined
      view.scroller.removeAttribute('aria-busy')
    })
    return loadingOlder
  }

  async function fetchOlder() {
    view.scroller.setAttribute('aria-busy', 'true')
    try {
      const page = await client.messages.list(roomId, { limit: PAGE_SIZE, before: messages.oldestSeq() })
      if (closed) return false
      messages.showOlder(page.messages)
      receipts.render()
      setHasMore(page.has_more)
      return true
    } catch (error) {
      showError(view.error, error)
      return false
    }
  }

  /**
   * Shows the message a reply quotes, loading older pages until it is there.
   * @param {number} seq
   */
  async function showMessage(seq) {
    while (!messages.item(seq) && (await loadOlder()));
    if (!messages.highlight(seq) && !closed) showError(view.error, 'That message could not be shown.')
  }

  /** @param {IntersectionObserverEntry[]} entries */
  function onVisible(entries) {
    for (const entry of entries) {
      if (!entry.isIntersecting) continue
      if (entry.target === view.older) void loadOlder()
      else if (entry.target instanceof HTMLElement)
        visibleMax = Math.max(visibleMax, Number(entry.target.dataset.seq))
    }
    void markRead()
  }

  /** Tells the server how far we have read: only what was on screen while the tab had focus. */
  async function markRead() {
    if (closed || visibleMax <= markedRead) return
    if (document.visibilityState !== 'visible' || !document.hasFocus()) return
    markedRead = visibleMax
    await client.rooms.markRead(roomId, markedRead).catch(() => {})
    if (visibleMax > markedRead) void markRead()
  }

  /** Who is here and who read what, afresh on every (re)connect: events may have been missed. */
  async function refreshSocial() {
    presence.requested()
    try {
      const [here, reads] = await Promise.all([client.rooms.presence(roomId), client.rooms.reads(roomId)])
      if (closed) return
      presence.reset(here.users, here.count)
      receipts.reset(reads.reads)
    } catch {
      presence.reset()
    }
  }

  /** @type {import('./stream.js').RoomStreamHandlers} */
  const streamHandlers = {
    message(message) {
      typingIn.remove(message.user_id)
      showLive(message)
    },
    edit: (message) => messages.edited(message),
    reaction: (data) => messages.reacted(data),
    delete(data) {
      messages.deleted(data.seq)
      composer.forget(data.seq)
    },
    open: () => void refreshSocial(),
    presence: (data) => presence.update(data),
    typing: (data) => typingIn.update(data),
    read: (data) => receipts.update(data),
    status: setStatus,
    gone,
    reload,
  }

  /**
   * Owners and moderators may delete anyone's message and get the Moderation panel; the
   * server decides, this only shows them the buttons.
   */
  async function learnRole() {
    try {
      const { members } = await client.members.list(roomId)
      const role = members.find((member) => member.user_id === me)?.role ?? null
      if (closed) return
      messages.setModerator(role === 'owner' || role === 'moderator')
      moderation.setRole(role)
    } catch {
      // Without the list only one's own messages offer Delete.
    }
  }

  async function start() {
    try {
      const room = await client.rooms.get(roomId)
      if (closed) return
      view.title.textContent = room.name
      document.title = `${room.name} · Parley`
      // Members are listed in read receipts; joining a public room makes us one.
      if (room.visibility === 'public') await client.rooms.join(roomId)
      void learnRole()
      const page = await client.messages.list(roomId, { limit: PAGE_SIZE })
      if (closed) return
      messages.showLatest(page.messages)
      setHasMore(page.has_more)
      // Resumes right after the change the page is consistent with: nothing is missed or repeated.
      stream = connectRoomStream(roomId, page.cursor, streamHandlers)
      if (focusSeq !== undefined) await showMessage(focusSeq)
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) gone('not_found')
      else setStatus('gone', `Could not open the room: ${error instanceof Error ? error.message : error}`)
    }
  }

  view.title.textContent = 'Loading…'
  view.older.hidden = true
  presence.reset([])
  typingIn.clear()
  showError(view.error, '')
  setStatus('connecting')
  setSendable(true)
  const composer = wireComposer(view, {
    roomId,
    typing: typingOut,
    onSent: (message) => showLive(message, { follow: true }),
    lastOwn: () => messages.lastOwn(),
    // The people @ completion offers: the room's members, the reader aside.
    members: async () => {
      const { members } = await client.members.list(roomId)
      return members.map((member) => member.user_id).filter((id) => id !== me)
    },
    signal,
  })
  const moderation = wireModeration(
    {
      panel: byId('moderation'),
      members: byId('mod-members'),
      banned: byId('mod-banned'),
      reports: byId('mod-reports'),
      reportsEmpty: byId('mod-reports-empty'),
      refresh: byId('mod-reports-refresh'),
      error: byId('mod-error'),
      reporting: {
        line: byId('reporting'),
        text: byId('reporting-text'),
        reason: byId('report-reason', HTMLInputElement),
        send: byId('report-send'),
        cancel: byId('report-cancel'),
        done: byId('reported'),
      },
    },
    { roomId, me, signal },
  )
  wireMessageActions(byId('messages'), {
    roomId,
    me,
    messages,
    composer,
    error: view.error,
    showMessage,
    report: (message) => moderation.report(message),
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
