import { describe, expect, it } from 'vitest'
import { parseSearch, prefixLiteral } from '../../src/chat/search-query.js'

// The query syntax of GET /search, read into terms (src/chat/search-query.ts); what the
// terms find is tested over HTTP in test/http/search.test.ts.

describe('parseSearch', () => {
  it('reads words, phrases, exclusions and prefixes', () => {
    expect(parseSearch('deploy "release notes" -staging deplo*')).toEqual([
      [
        { kind: 'word', text: 'deploy', negated: false },
        { kind: 'phrase', text: 'release notes', negated: false },
        { kind: 'word', text: 'staging', negated: true },
        { kind: 'prefix', text: 'deplo', negated: false },
      ],
    ])
  })

  it('splits alternatives at or, in any case, and ignores a dangling or', () => {
    expect(parseSearch('or cat OR "big dog" -fox or bird* or')).toEqual([
      [{ kind: 'word', text: 'cat', negated: false }],
      [
        { kind: 'phrase', text: 'big dog', negated: false },
        { kind: 'word', text: 'fox', negated: true },
      ],
      [{ kind: 'prefix', text: 'bird', negated: false }],
    ])
  })

  it('takes an unclosed quote as a phrase to the end, and a lone star or minus as nothing', () => {
    expect(parseSearch('-"open ended')).toEqual([[{ kind: 'phrase', text: 'open ended', negated: true }]])
    expect(parseSearch('* - **')).toEqual([
      [
        { kind: 'word', text: '*', negated: false },
        { kind: 'word', text: '**', negated: false },
      ],
    ])
  })
})

describe('prefixLiteral', () => {
  it('quotes the text so that quotes and backslashes stay text', () => {
    expect(prefixLiteral("it's")).toBe("'it''s':*")
    expect(prefixLiteral('a\\b')).toBe("'a\\\\b':*")
    expect(prefixLiteral("x' | !y")).toBe("'x'' | !y':*")
  })
})
