export interface Teardown {
  /** Registers a step; steps run in reverse order of registration. */
  add(name: string, step: () => void | Promise<void>): void
  /** Runs every step once, each bounded by `stepTimeoutMs`; failures are reported and do not stop the rest. */
  run(): Promise<void>
}

/**
 * What a benchmark started, undone in reverse on success, error and Ctrl-C alike.
 * Calling run() again waits for the first run instead of repeating it.
 */
export function createTeardown(
  stepTimeoutMs = 20_000,
  report = (line: string) => console.error(line),
): Teardown {
  const steps: { name: string; step: () => void | Promise<void> }[] = []
  let running: Promise<void> | undefined

  async function runAll(): Promise<void> {
    for (const { name, step } of steps.reverse()) {
      let timer: NodeJS.Timeout | undefined
      const started = performance.now()
      try {
        await Promise.race([
          Promise.resolve().then(step),
          new Promise((_, reject) => {
            timer = setTimeout(() => reject(new Error(`timed out after ${stepTimeoutMs} ms`)), stepTimeoutMs)
          }),
        ])
      } catch (error) {
        report(`cleanup: ${name} failed: ${error instanceof Error ? error.message : String(error)}`)
      } finally {
        clearTimeout(timer)
      }
      const seconds = (performance.now() - started) / 1000
      if (seconds > 2) report(`cleanup: ${name} took ${seconds.toFixed(1)} s`)
    }
    steps.length = 0
  }

  return {
    add: (name, step) => void steps.push({ name, step }),
    run: () => (running ??= runAll()),
  }
}
