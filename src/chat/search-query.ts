import { type SQL, sql } from 'drizzle-orm'
import { ChatError } from './errors.js'

/** One thing to look for: a word, a quoted phrase, or the start of a word (`deplo*`). */
export interface SearchTerm {
  kind: 'word' | 'phrase' | 'prefix'
  text: string
  /** `-word`: messages with it are left out. */
  negated: boolean
}

/** Alternatives joined by `or`, each a list of terms that must all hold. */
export type SearchExpression = SearchTerm[][]

const TOKEN = /(-?)"([^"]*)"?|(\S+)/gu

/**
 * The query syntax of websearch_to_tsquery (quoted phrases, `-word`, `or`) plus prefixes:
 * a word ending in `*` matches every word it starts. Parsed here rather than handed to
 * to_tsquery, whose own syntax would let any text become an operator.
 */
export function parseSearch(text: string): SearchExpression {
  const alternatives: SearchTerm[][] = [[]]
  for (const match of text.matchAll(TOKEN)) {
    const [, minus, phrase, bare] = match
    if (phrase !== undefined) {
      alternatives.at(-1)!.push({ kind: 'phrase', text: phrase, negated: minus === '-' })
      continue
    }
    const word = bare ?? ''
    if (word.toLowerCase() === 'or') {
      if (alternatives.at(-1)!.length > 0) alternatives.push([])
      continue
    }
    const negated = word.startsWith('-')
    const body = negated ? word.slice(1) : word
    const prefix = /^(.*?[\p{L}\p{N}])\*+$/u.exec(body)
    if (prefix) alternatives.at(-1)!.push({ kind: 'prefix', text: prefix[1]!, negated })
    else if (body) alternatives.at(-1)!.push({ kind: 'word', text: body, negated })
  }
  return alternatives.filter((terms) => terms.length > 0)
}

/**
 * `'text':*` in to_tsquery's own syntax, quoted so that nothing in the text is an operator:
 * inside quotes only the quote and the backslash are special, and both are escaped.
 */
export const prefixLiteral = (text: string) => `'${text.replace(/\\/g, '\\\\').replace(/'/g, "''")}':*`

/** The expression as a tsquery in SQL; every piece of user text is a bound parameter. */
export function toTsquery(expression: SearchExpression, config: string): SQL {
  const cfg = sql`${config}::regconfig`
  const term = (t: SearchTerm): SQL => {
    const query =
      t.kind === 'phrase'
        ? sql`phraseto_tsquery(${cfg}, ${t.text})`
        : t.kind === 'prefix'
          ? sql`to_tsquery(${cfg}, ${prefixLiteral(t.text)})`
          : sql`websearch_to_tsquery(${cfg}, ${t.text})`
    return t.negated ? sql`(!! ${query})` : query
  }
  const alternatives = expression.map((terms) => sql`(${sql.join(terms.map(term), sql` && `)})`)
  if (alternatives.length === 0) return sql`''::tsquery`
  return sql`(${sql.join(alternatives, sql` || `)})`
}

/**
 * What a query may ask for. A prefix matches every word of a readable room that it starts,
 * and each of those words' postings in that room is read (the index is keyed by room and
 * word, sql/search.sql): `a*` reads most of a room's entries, `wor*` a few. Each prefix is a
 * further scan of the index per readable room, and each alternative a further pass over the
 * readable rooms' matches.
 */
export const SEARCH_BOUNDS = { minPrefix: 3, maxPrefixes: 8, maxAlternatives: 8, maxTerms: 16 } as const

const tooBroad = (message: string) => new ChatError('query_too_broad', message)

/** Refuses an expression with more alternatives or terms than SEARCH_BOUNDS allows. */
export function checkSearchSize(expression: SearchExpression): void {
  if (expression.length > SEARCH_BOUNDS.maxAlternatives) {
    throw tooBroad(`A query may have at most ${SEARCH_BOUNDS.maxAlternatives} alternatives joined by or`)
  }
  const terms = expression.reduce((count, alternative) => count + alternative.length, 0)
  if (terms > SEARCH_BOUNDS.maxTerms) {
    throw tooBroad(`A query may have at most ${SEARCH_BOUNDS.maxTerms} words, phrases and prefixes`)
  }
}

// A lexeme of a tsquery's canonical text and its suffix: `'it''s':*`, `'word'`.
const LEXEME = /'((?:[^']|'')*)'(:[*A-D]+)?/g

/**
 * Refuses a compiled tsquery (its canonical text) holding a prefix shorter than
 * SEARCH_BOUNDS.minPrefix, or more than SEARCH_BOUNDS.maxPrefixes prefixes. Checked on what
 * PostgreSQL made of the query rather than on what the user typed, because the parser splits
 * a prefix at punctuation: `x-yz*` becomes `'x-yz':* <-> 'x':* <-> 'yz':*`, three prefixes,
 * and `'x':*` is as broad as `x*`.
 */
export function checkPrefixes(canonical: string): void {
  let prefixes = 0
  for (const [, lexeme, suffix] of canonical.matchAll(LEXEME)) {
    if (!suffix?.includes('*')) continue
    if ([...lexeme!.replace(/''/g, "'")].length < SEARCH_BOUNDS.minPrefix) {
      throw tooBroad(
        `Each word ending in * needs at least ${SEARCH_BOUNDS.minPrefix} letters before the *, without punctuation`,
      )
    }
    prefixes++
  }
  if (prefixes > SEARCH_BOUNDS.maxPrefixes) {
    throw tooBroad(
      `A query may have at most ${SEARCH_BOUNDS.maxPrefixes} words ending in *, each part of a word with punctuation counted`,
    )
  }
}
