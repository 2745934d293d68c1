// The message log of the room view: <li>s kept in seq order, each shown once, whatever
// order they arrive in (history pages, the stream, our own POST answers).

import { h, timeElement } from './ui.js'

/**
 * `onVisible(entries)` hears the IntersectionObserver that watches every message (and
 * whatever else is passed to `observe`) inside the scroller.
 */
export function createMessageList(scroller, list, me, names, onVisible) {
  const items = new Map()
  const seqs = []
  const observer = new IntersectionObserver(onVisible, { root: scroller })

  function render(message) {
    return h(
      'li',
      { class: message.user_id === me ? 'message mine' : 'message', 'data-seq': message.seq },
      h(
        'div',
        { class: 'meta' },
        h('span', { class: 'author', text: message.user_name }),
        ' ',
        timeElement(message.created_at),
      ),
      h('p', { class: 'body', text: message.body }),
    )
  }

  /** Inserts a message in seq order, once; answers whether it was new. */
  function insert(message) {
    if (items.has(message.seq)) return false
    names.set(message.user_id, message.user_name)
    const item = render(message)
    let index = seqs.length
    while (index > 0 && seqs[index - 1] > message.seq) index--
    seqs.splice(index, 0, message.seq)
    list.insertBefore(item, items.get(seqs[index + 1]) ?? null)
    items.set(message.seq, item)
    observer.observe(item)
    return true
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
    item: (seq) => items.get(seq),
    oldestSeq: () => seqs[0],
    newestSeq: () => seqs.at(-1),
    /** The latest page, scrolled to its end. */
    showLatest(messages) {
      for (const message of messages) insert(message)
      scrollToBottom()
    },
    /** A new message: follows it down when the reader was at the bottom (or `follow`). */
    showLive(message, { follow = false } = {}) {
      const stick = follow || nearBottom()
      const added = insert(message)
      if (added && stick) scrollToBottom()
      return added
    },
    /** An older page, above: what the reader is looking at stays put (overflow-anchor is off). */
    showOlder(messages) {
      const fromBottom = scroller.scrollHeight - scroller.scrollTop
      for (const message of messages) insert(message)
      scroller.scrollTop = scroller.scrollHeight - fromBottom
    },
    /** Observing afresh reports an element again even if it never left the view. */
    reobserve(element) {
      observer.unobserve(element)
      observer.observe(element)
    },
    unobserve: (element) => observer.unobserve(element),
    clear() {
      observer.disconnect()
      list.replaceChildren()
    },
  }
}
