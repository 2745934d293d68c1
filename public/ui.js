// @ts-check
// DOM building without innerHTML: every piece of text becomes a text node, so a message
// body like `<img src=x onerror=alert(1)>` is shown, never parsed.

/** @typedef {string | number | boolean | null | undefined} AttributeValue */
/** @typedef {Node | string | null | undefined | false} Child */

/**
 * `h('li', { class: 'message', 'data-seq': 3 }, h('p', { text: body }))`.
 * `text` sets textContent; `on<event>` adds a listener; other keys become attributes
 * (true: present, false/null/undefined: absent). String children become text nodes.
 *
 * @template {keyof HTMLElementTagNameMap} Tag
 * @param {Tag} tag
 * @param {Record<string, AttributeValue | EventListener>} [props]
 * @param {...(Child | Child[])} children
 * @returns {HTMLElementTagNameMap[Tag]}
 */
export function h(tag, props = {}, ...children) {
  const element = document.createElement(tag)
  for (const [key, value] of Object.entries(props)) {
    if (typeof value === 'function') element.addEventListener(key.slice(2), value)
    else if (key === 'text') element.textContent = value == null ? '' : String(value)
    else if (key === 'class') element.className = String(value)
    else if (value === true) element.setAttribute(key, '')
    else if (value !== false && value !== null && value !== undefined)
      element.setAttribute(key, String(value))
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue
    element.append(typeof child === 'string' ? document.createTextNode(child) : child)
  }
  return element
}

/**
 * `byId('status')`, or `byId('message-input', HTMLInputElement)` for an element of that
 * kind, failing loudly when the page and the script disagree.
 *
 * @template {HTMLElement} [Kind=HTMLElement]
 * @param {string} id
 * @param {{ new (): Kind }} [kind]
 * @returns {Kind}
 */
export function byId(id, kind) {
  const element = document.getElementById(id)
  if (!element) throw new Error(`#${id} is missing from index.html`)
  if (kind && !(element instanceof kind)) throw new Error(`#${id} is not a ${kind.name} in index.html`)
  return /** @type {Kind} */ (element)
}

/** @param {string} iso */
export function timeElement(iso) {
  const date = new Date(iso)
  const sameDay = date.toDateString() === new Date().toDateString()
  const text = sameDay
    ? date.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })
    : date.toLocaleString([], { dateStyle: 'short', timeStyle: 'short' })
  return h('time', { datetime: iso, title: date.toLocaleString(), text })
}

/**
 * "alice is typing…", "alice and bob are typing…", "3 people are typing…", or "".
 * @param {string[]} names
 */
export function typingText(names) {
  if (names.length === 0) return ''
  if (names.length === 1) return `${names[0]} is typing…`
  if (names.length === 2) return `${names[0]} and ${names[1]} are typing…`
  return `${names.length} people are typing…`
}

/**
 * "alice", "alice and bob", "alice, bob and carol".
 * @param {string[]} names
 */
export function listNames(names) {
  if (names.length <= 1) return names.join('')
  return `${names.slice(0, -1).join(', ')} and ${names[names.length - 1]}`
}

/**
 * Shows one form error (or clears it with ''); the element is role="alert".
 * @param {HTMLElement} element
 * @param {unknown} error
 */
export function showError(element, error) {
  element.textContent = error instanceof Error ? error.message : String(error)
}
