import { expect } from 'vitest'
import { until } from './wait.js'

// Reading an instance's /metrics (Prometheus text format).

export interface Sample {
  labels: Record<string, string>
  value: number
}

/** The samples of one metric in Prometheus text format. */
export function samples(text: string, name: string): Sample[] {
  const found: Sample[] = []
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line)
    if (!match || match[1] !== name) continue
    const labels: Record<string, string> = {}
    for (const [, key, value] of (match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g))
      labels[key!] = value!
    found.push({ labels, value: Number(match[3]) })
  }
  return found
}

/** The value of an unlabelled metric; fails unless it has exactly one sample. */
export function single(text: string, name: string): number {
  const found = samples(text, name)
  expect(found, name).toHaveLength(1)
  return found[0]!.value
}

export async function scrape(instance: { url: string }): Promise<string> {
  const response = await fetch(`${instance.url}/metrics`)
  expect(response.status).toBe(200)
  return response.text()
}

export async function waitForOpenStreams(instance: { url: string }, count: number) {
  await until(
    async () => single(await scrape(instance), 'parley_open_streams') === count,
    `${count} open streams on ${instance.url}`,
  )
}
