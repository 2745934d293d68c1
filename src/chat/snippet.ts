import { type SQL, sql } from 'drizzle-orm'

// ts_headline marks matches with two private-use characters, not with HTML, and sees the
// body's `<` and `>` as two others (it would otherwise drop anything that looks like a
// tag). The headline is HTML-escaped first and only then do the marks become <mark> and
// </mark>, so a body's own markup never comes out as markup. A body's own private-use
// characters of the four are dropped before the headline is built, so it cannot forge one.
const OPEN = '\uE000'
const CLOSE = '\uE001'
const LT = '\uE002'
const GT = '\uE003'

export const SNIPPET_OPTIONS = `StartSel=${OPEN}, StopSel=${CLOSE}, MaxWords=35, MinWords=15`

/** The SQL text `body` as ts_headline should see it. */
export const snippetSource = (body: SQL) =>
  sql`translate(${body}, ${`<>${OPEN}${CLOSE}${LT}${GT}`}, ${LT + GT})`

const HTML: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
  [OPEN]: '<mark>',
  [CLOSE]: '</mark>',
  [LT]: '&lt;',
  [GT]: '&gt;',
}

/** A headline as HTML that is safe to render: escaped text, with only the matches marked. */
export function escapeSnippet(headline: string): string {
  return headline.replace(/[&<>"'\uE000-\uE003]/g, (c) => HTML[c]!)
}
