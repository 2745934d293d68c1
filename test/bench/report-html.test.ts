import { describe, expect, it } from 'vitest'
import { type StormRun, stormTimeline } from '../../bench/fanout/crowds.js'
import { parseBenchOptions } from '../../bench/fanout/options.js'
import type { PhaseResult } from '../../bench/fanout/phase.js'
import type { BenchResults } from '../../bench/fanout/report.js'
import { renderHtmlReport, stormChart } from '../../bench/fanout/report-html.js'
import type { SessionFacts } from '../../bench/fanout/session.js'
import type { TargetName } from '../../bench/fanout/targets.js'

const summary = (p50: number, p99: number) => ({ count: 1000, p50, p90: p99, p99, max: p99 + 5 })

function phase(rate: number, p99: number, subscribers = 1000, rooms = 20): PhaseResult {
  const expected = (rate * 2 * subscribers) / rooms
  return {
    rate,
    seconds: 2,
    subscribers,
    rooms,
    insert: { rate, inserted: rate * 2, failed: 0, achievedRate: rate, commitMs: summary(1, 3) },
    expected,
    delivered: expected,
    missing: 0,
    duplicates: 0,
    deliveryRate: expected / 2,
    latencyMs: summary(2, p99),
    serverCpuPercent: 30,
    serverPeakRssBytes: 200 * 2 ** 20,
    databaseCpuPercent: 20,
    serverTransactionsPerSecond: 5,
    loadCpuPercent: 40,
    disconnects: 0,
    drainMs: 10,
  }
}

function session(target: TargetName, subscribers = 1000): SessionFacts {
  return {
    target,
    requested: subscribers,
    open: { opened: subscribers, failed: 0 },
    rssBeforeBytes: 60 * 2 ** 20,
    rssIdleBytes: 80 * 2 ** 20,
    rssPerSubscriberBytes: 13 * 1024,
    databaseConnections: 2,
    warmup: { ok: true, ms: 30 },
  }
}

function storm(way: StormRun['way'], caughtUpMs: number): StormRun {
  return {
    way,
    streams: 10,
    rooms: 2,
    behind: 100,
    caughtUpMs,
    caughtUp: 10,
    missing: 0,
    duplicated: 0,
    failedToOpen: 0,
    transactionsPerStream: 0.05,
    timeline: stormTimeline([10, 20, 60, 60, 90, 100, 110, 120, 130, caughtUpMs], caughtUpMs),
  }
}

const hostile = '<script>alert("x")</script> & co'

const results: BenchResults = {
  startedAt: '2025-01-01T00:00:00.000Z',
  finishedAt: '2025-01-01T00:02:00.000Z',
  durationSeconds: 120,
  machine: {
    cores: 2,
    cpuModel: 'Test CPU <2 GHz>',
    memoryBytes: 2 ** 33,
    node: 'v20.20.0',
    postgres: 'PostgreSQL 17.9',
    database: 'DATABASE_URL',
    openFileLimit: 20_000,
    revision: { commit: 'abc1234', dirty: false },
    packages: { hono: '4.0.0' },
  },
  options: parseBenchOptions(['--quick']),
  targets: { parley: hostile, raw: 'bare node:http' },
  fanout: {
    parley: {
      session: session('parley'),
      fanout: phase(100, 6),
      ceiling: {
        deliveriesPerSecond: 20_000,
        passedRate: 400,
        failedRate: 800,
        steps: [phase(100, 5), phase(400, 20), phase(800, 150)],
      },
    },
    raw: {
      session: session('raw'),
      fanout: phase(100, 5),
      ceiling: {
        deliveriesPerSecond: 20_000,
        passedRate: 400,
        failedRate: 800,
        steps: [phase(100, 4), phase(400, 30), phase(800, 0)],
      },
    },
  },
  scaling: [
    {
      target: 'parley',
      subscribers: 500,
      rooms: 20,
      session: session('parley', 500),
      result: phase(100, 4, 500),
    },
    { target: 'parley', subscribers: 1000, rooms: 20, session: session('parley'), result: phase(100, 6) },
    {
      target: 'parley',
      subscribers: 1000,
      rooms: 200,
      session: session('parley'),
      result: phase(1000, 9, 1000, 200),
    },
  ],
  posting: [],
  storms: [storm('header', 140), storm('cold', 400)],
  ratios: [],
  goals: [
    { goal: 'fan-out: p99 <= 50 ms', measured: '6 ms', met: true },
    { goal: hostile, measured: '<b>bold</b>', met: false },
  ],
  skipped: [],
  errors: [{ scenario: 'data', message: 'failed: <img src=x onerror=alert(1)>' }],
}

/** The title of every <svg> in `html`, in order. */
const chartTitles = (html: string) =>
  [...html.matchAll(/<svg\b[^>]*><title>([^<]*)<\/title>/g)].map(([, title]) => title)

describe('the HTML bench report', () => {
  it('draws the scaling curve, the ceiling search and the storm timeline as titled SVG charts', () => {
    const titles = chartTitles(renderHtmlReport(results))

    expect(titles).toEqual([
      'Delivery p99 by subscribers at 20 rooms',
      'Deliveries per second by subscribers at 20 rooms',
      'Delivery p99 by rooms at 1k subscribers',
      'Deliveries per second by rooms at 1k subscribers',
      'Ceiling search: p99 at each step tried (hollow: the step failed)',
      'Reconnect storm: 10 streams over 2 rooms, 100 messages behind each',
    ])
  })

  it('marks the steps that failed the ceiling hollow and those that passed filled', () => {
    const html = renderHtmlReport(results)

    expect(html).toMatch(/fill="#fff"[^>]*><title>parley at 800 msg\/s [^<]*: failed<\/title>/)
    expect(html).toMatch(/fill="#0072B2"[^>]*><title>parley at 400 msg\/s [^<]*: passed<\/title>/)
  })

  it('escapes every text it shows, in the page and in the charts', () => {
    const html = renderHtmlReport(results)

    expect(html).not.toContain('<script>')
    expect(html).not.toContain('<b>')
    expect(html).not.toContain('<img')
    expect(html).not.toContain('<2 GHz>')
    expect(html).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; co')
    expect(html).toContain('failed: &lt;img src=x onerror=alert(1)&gt;')
  })

  it('draws the storm chart as an SVG file of its own, with its caught-up lines and targets', () => {
    const svg = stormChart(results)!

    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true)
    expect(svg).toContain(
      '<title>header: EventSource (Authorization, Last-Event-ID), 10/10 in 140 ms</title>',
    )
    expect(svg).toContain('target header')
    expect(svg).toContain('target cold')
    expect(stormChart({ storms: [] })).toBeUndefined()
  })

  it('says which sections did not run', () => {
    const html = renderHtmlReport({ ...results, fanout: {}, scaling: [], storms: undefined })

    expect(chartTitles(html)).toEqual([])
    expect(html.match(/<p>Not run\.<\/p>/g)).toHaveLength(3)
  })
})

describe('the storm timeline', () => {
  it('counts the streams caught up at every 50 ms since the storm began', () => {
    expect(stormTimeline([10, 60, 60, 140], 140)).toEqual({ everyMs: 50, counts: [0, 1, 3, 4] })
  })

  it('widens the interval so that a slow storm keeps at most about 400 samples', () => {
    const timeline = stormTimeline([100, 59_000], 59_000)

    expect(timeline.everyMs).toBe(150)
    expect(timeline.counts).toHaveLength(395)
    expect(timeline.counts.at(-1)).toBe(2)
  })
})
