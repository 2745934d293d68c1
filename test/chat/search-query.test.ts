import { describe, expect, it } from 'vitest'
import { ChatError } from '../../src/chat/errors.js'
import { checkPrefixes, parseSearch, prefixLiteral } from '../../src/chat/search-query.js'

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

describe('checkPrefixes', () => {
  const refusal = (canonical: string) => {
    try {
      checkPrefixes(canonical)
      return 'allowed'
    } catch (error) {
      if (error instanceof ChatError) return error.code
      throw error
    }
  }

  it('allows eight prefixes of three letters or more, and refuses a ninth', () => {
    const prefixes = (n: number) => Array.from({ length: n }, (_, i) => `'pel${i}':*`).join(' | ')
    expect(refusal(prefixes(8))).toBe('allowed')
    expect(refusal(prefixes(9))).toBe('query_too_broad')
  })

  it('counts each part of a prefix the parser splits at punctuation', () => {
    const split = "'abc-def':* <-> 'abc':* <-> 'def':*"
    expect(refusal(`${split} & ${split} & 'ghij':* & 'klmn':*`)).toBe('allowed')
    expect(refusal(`${split} & ${split} & ${split}`)).toBe('query_too_broad')
  })

  it('measures a prefix in characters, its doubled quotes counted once', () => {
    expect(refusal("'it''s':*")).toBe('allowed')
    expect(refusal("'a''':*")).toBe('query_too_broad')
    expect(refusal("'ab' & 'cd'")).toBe('allowed')
  })
})
