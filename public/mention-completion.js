// @ts-check
// @ completion in the send box: typing @ and the start of a user id offers the room's
// members whose id starts with it; Up and Down move, Enter or Tab takes one, Escape closes.

const MAX_OPTIONS = 8
// The @-word just before the caret, as the server reads mentions (sql/mentions.sql).
const TYPED = /(^|[^\p{L}\p{N}_@])@([\p{L}\p{N}_][\p{L}\p{N}_.-]*)?$/u

/**
 * Wires completion on `input`, offering ids from `members()` (a promise of user ids, asked
 * once, when first needed). `list` is the listbox shown under the box. Returns
 * `handleKey(event)`, which the composer asks first: true when completion took the key.
 *
 * @param {{ input: HTMLTextAreaElement, list: HTMLElement }} elements
 * @param {{ members: () => Promise<string[]>, signal: AbortSignal }} options
 */
export function wireMentionCompletion({ input, list }, { members, signal }) {
  /** @type {Promise<string[]> | undefined} */
  let known
  /** @type {string[]} */
  let options = []
  let selected = 0

  const close = () => {
    options = []
    list.hidden = true
    list.replaceChildren()
    input.removeAttribute('aria-activedescendant')
    input.setAttribute('aria-expanded', 'false')
  }

  function render() {
    list.replaceChildren(
      ...options.map((id, i) => {
        const item = document.createElement('li')
        item.id = `mention-option-${i}`
        item.setAttribute('role', 'option')
        item.setAttribute('aria-selected', String(i === selected))
        item.textContent = `@${id}`
        item.addEventListener('mousedown', (event) => {
          event.preventDefault()
          take(id)
        })
        return item
      }),
    )
    list.hidden = options.length === 0
    input.setAttribute('aria-expanded', String(options.length > 0))
    if (options.length > 0) input.setAttribute('aria-activedescendant', `mention-option-${selected}`)
  }

  function typed() {
    const before = input.value.slice(0, input.selectionStart ?? input.value.length)
    const match = TYPED.exec(before)
    return match ? { start: before.length - (match[2]?.length ?? 0) - 1, prefix: match[2] ?? '' } : undefined
  }

  async function offer() {
    const word = typed()
    if (!word) return close()
    known ??= members().catch(() => [])
    const ids = await known
    if (signal.aborted) return
    const current = typed()
    if (!current) return close()
    const prefix = current.prefix.toLowerCase()
    options = ids.filter((id) => id.toLowerCase().startsWith(prefix)).slice(0, MAX_OPTIONS)
    selected = 0
    render()
  }

  /** @param {string} id */
  function take(id) {
    const word = typed()
    if (!word) return close()
    const caret = input.selectionStart ?? input.value.length
    input.value = `${input.value.slice(0, word.start)}@${id} ${input.value.slice(caret)}`
    const at = word.start + id.length + 2
    input.setSelectionRange(at, at)
    close()
    input.focus()
  }

  input.setAttribute('aria-autocomplete', 'list')
  input.setAttribute('aria-controls', list.id)
  input.addEventListener('input', () => void offer(), { signal })
  input.addEventListener('blur', close, { signal })
  close()

  return {
    /** @param {KeyboardEvent} event */
    handleKey(event) {
      if (options.length === 0) return false
      if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
        selected = (selected + (event.key === 'ArrowDown' ? 1 : options.length - 1)) % options.length
        render()
      } else if (event.key === 'Enter' || event.key === 'Tab') {
        take(options[selected])
      } else if (event.key === 'Escape') {
        close()
      } else return false
      event.preventDefault()
      return true
    },
  }
}
