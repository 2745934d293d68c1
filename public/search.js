// @ts-check
// The lobby's search box: GET /search over the rooms the user may read; each result opens
// its room at the message (#/rooms/:id/messages/:seq), which is scrolled to and marked.

import { client } from './api.js'
import { byId, h, showError, timeElement } from './ui.js'

/** @typedef {import('./parley-client.js').SearchPage} SearchPage */

const MARK = /<mark>(.*?)<\/mark>/g

/**
 * The snippet as nodes: the server escapes the message and marks the matches with <mark>;
 * this builds text nodes and <mark> elements from it and never parses it as HTML, so even
 * a snippet that broke that promise could only show up as text.
 *
 * @param {string} snippet
 */
export function snippetNodes(snippet) {
  /** @param {string} text */
  const decode = (text) =>
    new window.DOMParser().parseFromString(`<body>${text}`, 'text/html').body.textContent ?? ''
  /** @type {Node[]} */
  const nodes = []
  let last = 0
  for (const match of snippet.matchAll(MARK)) {
    nodes.push(document.createTextNode(decode(snippet.slice(last, match.index))))
    nodes.push(h('mark', { text: decode(match[1]) }))
    last = match.index + match[0].length
  }
  nodes.push(document.createTextNode(decode(snippet.slice(last))))
  return nodes
}

/** @param {SearchPage['results'][number]} result */
function resultItem({ message, room, snippet }) {
  return h(
    'li',
    { class: 'search-result' },
    h(
      'a',
      { href: `#/rooms/${room.id}/messages/${message.seq}` },
      h('span', { class: 'room-name', text: room.name }),
      ' · ',
      h('span', { class: 'author', text: message.user_name }),
      ' ',
      timeElement(message.created_at),
    ),
    h('p', { class: 'snippet' }, snippetNodes(snippet)),
  )
}

/** Wires the search form once. */
export function wireSearch() {
  const form = byId('search-form', HTMLFormElement)
  const results = byId('search-results')
  const error = byId('search-error')
  form.addEventListener('submit', async (event) => {
    event.preventDefault()
    showError(error, '')
    const q = String(new FormData(form).get('q') ?? '').trim()
    if (!q) return
    try {
      const page = /** @type {SearchPage} */ (
        await client.request('GET', '/search', { query: { q, limit: 20 } })
      )
      results.replaceChildren(
        ...(page.results.length > 0
          ? page.results.map(resultItem)
          : [h('li', { class: 'hint', text: 'Nothing found.' })]),
      )
      results.hidden = false
    } catch (failure) {
      showError(error, failure)
    }
  })
}
