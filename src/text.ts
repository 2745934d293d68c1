// What Parley keeps of the text people send. Names (a token's display name, a room's name)
// must show exactly what they say, so nothing invisible or layout-changing survives in them;
// message bodies keep what people type, minus the control characters a terminal or a log
// would act on. Lengths are code points, as PostgreSQL counts them.

/**
 * Control (Cc) and format (Cf) characters and the line and paragraph separators (Zl, Zp):
 * bidi overrides, embeddings and isolates, which can make "Alice" of "ecilA" or reverse a
 * line on screen; zero-width spaces and joiners, which make two names look alike; marks, the
 * soft hyphen and the BOM. Also lone surrogates (Cs), which PostgreSQL would store as U+FFFD.
 */
const INVISIBLE_IN_NAMES = /[\p{Cc}\p{Cf}\p{Cs}\p{Zl}\p{Zp}]/gu

/** Cc but not tab or newline, as "neither non-Cc nor tab nor newline"; CR became a newline first. */
const CONTROL_IN_BODIES = /[^\P{Cc}\t\n]/gu

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/

/** Length in Unicode code points, so an emoji counts as one character. */
export function codePoints(text: string): number {
  let count = 0
  for (const _ of text) count++
  return count
}

/** The first `max` code points of `text`: the cut never splits a surrogate pair. */
export function firstCodePoints(text: string, max: number): string {
  let end = 0
  let count = 0
  for (const char of text) {
    if (count++ === max) return text.slice(0, end)
    end += char.length
  }
  return text
}

/** Text PostgreSQL cannot store as sent: a NUL, or a lone UTF-16 surrogate. */
export function isUnstorable(text: string): boolean {
  return text.includes('\0') || LONE_SURROGATE.test(text)
}

/** A display or room name without invisible or layout-changing characters, trimmed; may be empty. */
export function cleanName(text: string): string {
  return text.replace(INVISIBLE_IN_NAMES, '').trim()
}

/** A message body with every line break a newline and no other control character but tab, trimmed. */
export function cleanBody(text: string): string {
  return text.replace(/\r\n?/g, '\n').replace(CONTROL_IN_BODIES, '').trim()
}

/** A token's display name: clean, at most `max` code points; empty when nothing visible is left. */
export function displayName(text: string, max: number): string {
  return firstCodePoints(cleanName(text), max).trimEnd()
}
