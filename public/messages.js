// @ts-check
// The message log of the room view: <li>s kept in seq order, each shown once, whatever
// order they arrive in (history pages, the stream, our own POST answers), and brought up
// to date by the stream's edits, deletes and reactions. Each <li> stays for good once
// shown (read receipts and the visibility observer hold on to it); its content is rebuilt.

import { renderContent } from './message-view.js'
import { h } from './ui.js'

/** @typedef {import('./parley-client.js').Message} Message */
/** @typedef {import('./parley-client.js').ParleyEvents} ParleyEvents */

const HIGHLIGHT_MS = 2_000

/**
 * `onVisible(entries)` hears the IntersectionObserver that watches every message (and
 * whatever else is passed to `observe`) inside the scroller. `fetchMessage(seq)` resolves
 * with a message that is not shown, for the quote of a reply to it.
 *
 * @param {HTMLElement} scroller
 * @param {HTMLElement} list
 * @param {object} options
 * @param {string} options.me
 * @param {Map<string, string>} options.names every user id's latest display name, kept up here
 * @param {IntersectionObserverCallback} options.onVisible
 * @param {(seq: number) => Promise<Message>} options.fetchMessage
 */
export function createMessageList(scroller, list, { me, names, onVisible, fetchMessage }) {
  /** @type {Map<number, HTMLElement>} */
  const items = new Map()
  /** @type {Map<number, Message>} */
  const shown = new Map()
  /** @type {number[]} */
  const seqs = []
  // Messages quoted by a shown reply but not shown themselves (null: unavailable).
  /** @type {Map<number, Message | null | undefined>} */
  const quoted = new Map()
  // The emoji we reacted with, per message, only where we know it in full: a message with
  // no reactions, one whose reactions we fetched, both kept up by our own reaction events.
  /** @type {Map<number, Set<string>>} */
  const mine = new Map()
  const observer = new IntersectionObserver(onVisible, { root: scroller })
  let canModerate = false
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let highlightTimer

  /** @param {Message} message */
  function parentOf(message) {
    if (!message.reply_to) return undefined
    const seq = message.reply_to
    if (shown.has(seq)) return shown.get(seq)
    if (!quoted.has(seq)) {
      quoted.set(seq, undefined)
      fetchMessage(seq).then(
        (parent) => setQuoted(seq, parent),
        () => setQuoted(seq, null),
      )
    }
    return quoted.get(seq)
  }

  /**
   * @param {number} seq
   * @param {Message | null} message
   */
  function setQuoted(seq, message) {
    quoted.set(seq, message)
    rerenderRepliesTo(seq)
  }

  /** @param {number} seq */
  function rerender(seq) {
    const message = shown.get(seq)
    const item = items.get(seq)
    const old = item?.firstElementChild
    if (!message || !item || !old) return
    const next = renderContent(message, { me, canModerate, parent: parentOf(message), mine: mine.get(seq) })
    // Asked before the swap: a focused element taken out of the page gives up its focus.
    const focused = old.contains(document.activeElement) ? document.activeElement : undefined
    old.replaceWith(next)
    carryOver(old, next, item, focused)
  }

  /**
   * What the reader was doing in a message rebuilt under them (someone reacted meanwhile)
   * carries over: the open picker, the button with focus, a Delete waiting for its confirmation.
   *
   * @param {Element} old
   * @param {HTMLElement} next
   * @param {HTMLElement} item
   * @param {Element | null | undefined} focused
   */
  function carryOver(old, next, item, focused) {
    const picker = /** @type {HTMLElement | null} */ (next.querySelector('.picker'))
    const wasOpen = /** @type {HTMLElement | null} */ (old.querySelector('.picker'))?.hidden === false
    if (picker && wasOpen) picker.hidden = false
    if (!(focused instanceof HTMLElement)) return
    const buttons = /** @type {NodeListOf<HTMLButtonElement>} */ (
      next.querySelectorAll('button[data-action]')
    )
    const same = [...buttons].find(
      (button) =>
        button.dataset.action === focused.dataset.action && button.dataset.emoji === focused.dataset.emoji,
    )
    if (same && focused.dataset.armed === 'true') {
      same.dataset.armed = 'true'
      same.textContent = focused.textContent
    }
    ;(same ?? item).focus({ preventScroll: true })
  }

  /** @param {number} seq */
  function rerenderRepliesTo(seq) {
    for (const message of shown.values()) if (message.reply_to === seq) rerender(message.seq)
  }

  /**
   * Inserts a message in seq order, once; answers whether it was new.
   * @param {Message} message
   */
  function insert(message) {
    if (items.has(message.seq)) return false
    names.set(message.user_id, message.user_name)
    shown.set(message.seq, message)
    if (Object.keys(message.reactions).length === 0) mine.set(message.seq, new Set())
    const item = h('li', {
      class: message.user_id === me ? 'message mine' : 'message',
      'data-seq': message.seq,
      tabindex: '-1',
    })
    item.append(h('div'))
    items.set(message.seq, item)
    rerender(message.seq)
    let index = seqs.length
    while (index > 0 && seqs[index - 1] > message.seq) index--
    seqs.splice(index, 0, message.seq)
    const next = seqs[index + 1]
    list.insertBefore(item, (next === undefined ? undefined : items.get(next)) ?? null)
    observer.observe(item)
    // A shown message is quoted from the list from now on.
    if (quoted.delete(message.seq)) rerenderRepliesTo(message.seq)
    return true
  }

  /**
   * Replaces a message with a newer state of it, wherever it is shown or quoted.
   * @param {Message} message
   */
  function replace(message) {
    if (shown.has(message.seq)) {
      shown.set(message.seq, message)
      rerender(message.seq)
    } else if (quoted.get(message.seq)) {
      quoted.set(message.seq, message)
    } else return
    rerenderRepliesTo(message.seq)
  }

  /**
   * A new reply's parent counts one more, but a count kept here would drift: a message's
   * `message` and `edit` events show it as it is when sent, replies not yet delivered
   * included. So the count is asked for afresh.
   *
   * @param {number} seq
   */
  function refreshReplyCount(seq) {
    fetchMessage(seq).then(
      (fresh) => {
        const message = shown.get(seq)
        if (message && message.reply_count !== fresh.reply_count)
          replace({ ...message, reply_count: fresh.reply_count })
      },
      () => {},
    )
  }

  function nearBottom() {
    return scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 80
  }

  function scrollToBottom() {
    scroller.scrollTop = scroller.scrollHeight
  }

  return {
    /** Shown seqs, ascending (read receipts search it). */
    seqs,
    /** @param {number} seq */
    item: (seq) => items.get(seq),
    /** @param {number} seq */
    message: (seq) => shown.get(seq),
    oldestSeq: () => seqs[0],
    /** The newest message of ours that is not deleted, for the Up arrow. */
    lastOwn() {
      for (let index = seqs.length - 1; index >= 0; index--) {
        const message = shown.get(seqs[index])
        if (message?.user_id === me && !message.deleted_at) return message
      }
      return undefined
    },
    /**
     * The latest page, scrolled to its end.
     * @param {Message[]} messages
     */
    showLatest(messages) {
      for (const message of messages) insert(message)
      scrollToBottom()
    },
    /**
     * A new message: follows it down when the reader was at the bottom (or `follow`).
     * @param {Message} message
     * @param {{ follow?: boolean }} [options]
     */
    showLive(message, { follow = false } = {}) {
      const stick = follow || nearBottom()
      const added = insert(message)
      if (added && message.reply_to !== null && shown.has(message.reply_to))
        refreshReplyCount(message.reply_to)
      if (added && stick) scrollToBottom()
      return added
    },
    /**
     * An older page, above: what the reader is looking at stays put (overflow-anchor is off).
     * @param {Message[]} messages
     */
    showOlder(messages) {
      const fromBottom = scroller.scrollHeight - scroller.scrollTop
      for (const message of messages) insert(message)
      scroller.scrollTop = scroller.scrollHeight - fromBottom
    },
    /** An `edit` event: the message as it is after the edit. */
    edited: replace,
    /**
     * A `delete` event: a tombstone without body or reactions.
     * @param {number} seq
     */
    deleted(seq) {
      const message = shown.get(seq) ?? quoted.get(seq)
      if (!message) return
      mine.set(seq, new Set())
      replace({
        ...message,
        body: '',
        reactions: {},
        deleted_at: message.deleted_at ?? new Date().toISOString(),
      })
    },
    /**
     * A `reaction` event: its emoji's total after it, and ours if it was ours.
     * @param {ParleyEvents['reaction']} event
     */
    reacted({ seq, emoji, user_id, action, count }) {
      const message = shown.get(seq)
      if (!message) return
      if (user_id === me) setMine(seq, emoji, action === 'added')
      const { [emoji]: _gone, ...others } = message.reactions
      replace({ ...message, reactions: count > 0 ? { ...message.reactions, [emoji]: count } : others })
    },
    /**
     * Our reactions to `seq`, if known; `learnMine` tells them once fetched.
     * @param {number} seq
     */
    mine: (seq) => mine.get(seq),
    /**
     * @param {number} seq
     * @param {string[]} emojis
     */
    learnMine(seq, emojis) {
      mine.set(seq, new Set(emojis))
      rerender(seq)
    },
    setMine,
    /**
     * Owners may delete anyone's message: every message gets a Delete action.
     * @param {boolean} value
     */
    setModerator(value) {
      canModerate = value
      for (const seq of seqs) rerender(seq)
    },
    /**
     * Scrolls a shown message into the middle of the view and marks it for a moment.
     * @param {number} seq
     */
    highlight(seq) {
      const item = items.get(seq)
      if (!item) return false
      for (const marked of list.querySelectorAll('.highlighted')) marked.classList.remove('highlighted')
      clearTimeout(highlightTimer)
      item.scrollIntoView({ block: 'center' })
      item.classList.add('highlighted')
      item.focus({ preventScroll: true })
      highlightTimer = setTimeout(() => item.classList.remove('highlighted'), HIGHLIGHT_MS)
      return true
    },
    /**
     * Observing afresh reports an element again even if it never left the view.
     * @param {Element} element
     */
    reobserve(element) {
      observer.unobserve(element)
      observer.observe(element)
    },
    /** @param {Element} element */
    unobserve: (element) => observer.unobserve(element),
    clear() {
      clearTimeout(highlightTimer)
      observer.disconnect()
      list.replaceChildren()
    },
  }

  /**
   * @param {number} seq
   * @param {string} emoji
   * @param {boolean} reacted
   */
  function setMine(seq, emoji, reacted) {
    const set = mine.get(seq)
    if (!set) return
    if (reacted) set.add(emoji)
    else set.delete(emoji)
    rerender(seq)
  }
}
