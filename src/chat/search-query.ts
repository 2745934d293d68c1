import { type SQL, sql } from 'drizzle-orm'

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
