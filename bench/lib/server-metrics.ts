/** A server's Prometheus text (GET /metrics), each metric summed over its labels. */
export async function scrapeMetrics(baseUrl: string): Promise<Map<string, number>> {
  const response = await fetch(new URL('/metrics', baseUrl))
  if (!response.ok) throw new Error(`GET /metrics answered ${response.status}`)
  const metrics = new Map<string, number>()
  for (const match of (await response.text()).matchAll(/^([a-zA-Z_:][\w:]*)(?:\{[^}]*\})? (\S+)$/gm)) {
    const [, name, value] = match
    if (name) metrics.set(name, (metrics.get(name) ?? 0) + Number(value))
  }
  return metrics
}
