import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { configSchema, loadConfig } from '../src/config.js'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const pages = [
  'README.md',
  ...readdirSync(join(root, 'docs')).flatMap((name) => (name.endsWith('.md') ? [`docs/${name}`] : [])),
]

const read = (page: string) => readFileSync(join(root, page), 'utf8')

/** The page without its fenced code blocks and code spans, where brackets are not links. */
function prose(markdown: string): string {
  return markdown.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[ \t]*$/gm, '').replace(/`[^`\n]*`/g, '')
}

/** The heading's anchor as GitHub makes it: lowercase, punctuation dropped, spaces as hyphens. */
function slugOf(heading: string): string {
  return heading
    .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc}\- ]/gu, '')
    .replace(/ /g, '-')
}

/** Every anchor of a page; a repeated heading gets -1, -2… as on GitHub. */
function anchorsOf(markdown: string): Set<string> {
  const seen = new Map<string, number>()
  const anchors = new Set<string>()
  const withoutFences = markdown.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[ \t]*$/gm, '')
  for (const [, heading] of withoutFences.matchAll(/^#{1,6}[ \t]+(.+?)[ \t#]*$/gm)) {
    const slug = slugOf(heading!)
    const count = seen.get(slug) ?? 0
    seen.set(slug, count + 1)
    anchors.add(count === 0 ? slug : `${slug}-${count}`)
  }
  return anchors
}

/** The targets of the page's inline links and images. */
function linksOf(markdown: string): string[] {
  return [...prose(markdown).matchAll(/!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)].map(
    ([, target]) => target!,
  )
}

/** What is wrong with `target` as written in `page`, or undefined when it resolves. */
function brokenLink(page: string, target: string): string | undefined {
  if (/^[a-z][a-z0-9+.-]*:/i.test(target)) return undefined
  if (target.startsWith('/')) return 'is absolute; links between pages are relative'
  const [path = '', anchor] = target.split('#', 2)
  const file = path ? join(dirname(join(root, page)), decodeURIComponent(path)) : join(root, page)
  if (!existsSync(file)) return `names ${relative(root, file)}, which does not exist`
  if (anchor === undefined) return undefined
  if (!file.endsWith('.md') || statSync(file).isDirectory())
    return 'has an anchor into a file that is not a page'
  if (!anchorsOf(readFileSync(file, 'utf8')).has(decodeURIComponent(anchor))) {
    return `has no heading #${anchor} in ${relative(root, file)}`
  }
  return undefined
}

describe('the README and the pages under docs/', () => {
  it('include the README and at least the configuration page', () => {
    expect(pages).toContain('README.md')
    expect(pages).toContain('docs/configuration.md')
  })

  it.each(pages)('%s links only to files and headings that exist', (page) => {
    const broken = linksOf(read(page)).flatMap((target) => {
      const problem = brokenLink(page, target)
      return problem ? [`${target} ${problem}`] : []
    })
    expect(broken).toEqual([])
  })
})

describe('the heading anchors', () => {
  it.each([
    ['Quick start', 'quick-start'],
    ['Walkthrough: curl and psql', 'walkthrough-curl-and-psql'],
    ['Several instances behind a load balancer', 'several-instances-behind-a-load-balancer'],
    ['`GET /me/stream` and RATE_LIMIT_WINDOW_MS', 'get-mestream-and-rate_limit_window_ms'],
    ['[Search](api.md) at scale', 'search-at-scale'],
  ])('turn %j into #%s, as GitHub does', (heading, slug) => {
    expect(slugOf(heading)).toBe(slug)
  })
})

interface SettingRow {
  name: string
  /** The first backticked value of the Default column, when it shows one. */
  shownDefault: string | undefined
}

/** The rows of docs/configuration.md's table whose first column is a backticked variable name. */
function configurationRows(markdown: string): SettingRow[] {
  return markdown.split(/\r?\n/).flatMap((line) => {
    const cells = line.split(/(?<!\\)\|/).map((cell) => cell.trim())
    const name = /^`([A-Z][A-Z0-9_]*)`$/.exec(cells[1] ?? '')?.[1]
    if (!name) return []
    return [{ name, shownDefault: /`([^`]*)`/.exec(cells[2] ?? '')?.[1] }]
  })
}

describe('docs/configuration.md', () => {
  const rows = configurationRows(read('docs/configuration.md'))

  it('lists every variable of the config schema once, and nothing else', () => {
    const names = rows.map((row) => row.name)
    expect(names.length, 'a variable is listed twice').toBe(new Set(names).size)
    expect([...names].sort()).toEqual(Object.keys(configSchema.shape).sort())
  })

  it('shows as the default of each variable the value Parley takes without it', () => {
    const defaults: Record<string, unknown> = loadConfig({})
    const shown = Object.fromEntries(rows.map((row) => [row.name, row.shownDefault]))
    const expected = Object.fromEntries(
      rows.map((row) => [
        row.name,
        defaults[row.name] === undefined ? undefined : String(defaults[row.name]),
      ]),
    )
    expect(shown).toEqual(expected)
  })
})
