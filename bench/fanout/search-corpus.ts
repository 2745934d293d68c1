// The bodies the search benchmark seeds: words drawn from a made-up vocabulary with a
// long-tailed (log-uniform, close to Zipf) frequency, like chat, plus the words the
// benchmark looks for, each at a known rate.

/** What the benchmark searches for, and how often each appears among the bodies. */
export const SEARCHES = {
  common: { q: 'hello', share: 0.1 },
  rare: { q: 'zyzzyva', share: 0 },
  phrase: { q: '"release candidate"', share: 0.01 },
  prefix: { q: 'deplo*', share: 0.02 },
} as const

const VOCABULARY = 20_000
const PREFIXED = ['deploy', 'deployed', 'deploying', 'deployment']

/** A small deterministic generator, so every run seeds the same text. */
function random(seed: number) {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** `count` distinct message bodies; the messages cycle through them. Body 0 holds the rare word. */
export function searchBodies(count: number, seed = 1): string[] {
  const next = random(seed)
  const reserved = new Set(['hello', 'zyzzyva', 'release', 'candidate', 'or'])
  const words: string[] = []
  while (words.length < VOCABULARY) {
    const length = 3 + Math.floor(next() * 7)
    let word = ''
    for (let i = 0; i < length; i++) word += String.fromCharCode(97 + Math.floor(next() * 26))
    if (!reserved.has(word) && !word.startsWith('deplo')) words.push(word)
  }
  const pick = () => words[Math.floor(Math.exp(next() * Math.log(VOCABULARY))) - 1]!
  const bodies: string[] = []
  for (let b = 0; b < count; b++) {
    const body = Array.from({ length: 8 + Math.floor(next() * 9) }, pick)
    const insert = (text: string) => body.splice(Math.floor(next() * body.length), 0, text)
    if (next() < SEARCHES.common.share) insert('hello')
    if (next() < SEARCHES.phrase.share) insert('release candidate')
    if (next() < SEARCHES.prefix.share) insert(PREFIXED[Math.floor(next() * PREFIXED.length)]!)
    if (b === 0) insert('zyzzyva')
    bodies.push(body.join(' '))
  }
  return bodies
}
