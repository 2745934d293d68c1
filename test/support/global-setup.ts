import { chmod, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { TestProject } from 'vitest/node'
import { writeClientBundle } from '../../scripts/bundle-client.js'
import { type EmbeddedDatabase, startEmbeddedPostgres } from '../../src/db/embedded.js'

declare module 'vitest' {
  export interface ProvidedContext {
    /** A superuser URL on the server every test file creates its own database on. */
    adminUrl: string
  }
}

let embedded: EmbeddedDatabase | undefined
let dataDir: string | undefined

/**
 * Builds the browser copy of the client library, which the servers under test serve from
 * public/; then uses DATABASE_URL's server when set, otherwise starts an embedded PostgreSQL
 * on a free port.
 */
export async function setup(project: TestProject): Promise<void> {
  await writeClientBundle()
  const configured = process.env.DATABASE_URL
  if (configured) {
    project.provide('adminUrl', configured)
    return
  }
  dataDir = await mkdtemp(join(tmpdir(), 'parley-test-pg-'))
  // When run as root, PostgreSQL runs as the postgres user and must reach the directory.
  await chmod(dataDir, 0o755)
  embedded = await startEmbeddedPostgres({ dir: join(dataDir, 'pg'), persistent: false })
  project.provide('adminUrl', embedded.url)
}

export async function teardown(): Promise<void> {
  await embedded?.stop()
  if (dataDir) await rm(dataDir, { recursive: true, force: true })
}
