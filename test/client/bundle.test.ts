import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { BUNDLE_PATH, bundleClient } from '../../scripts/bundle-client.js'

describe('the browser copy of the client library', () => {
  it('matches client/ as it is now (run `npm run build:client` after changing it)', async () => {
    expect(readFileSync(BUNDLE_PATH, 'utf8') === (await bundleClient())).toBe(true)
  })

  it('carries nothing of the server or of zod, which it imports only as types', () => {
    const bundle = readFileSync(BUNDLE_PATH, 'utf8')
    expect(bundle).not.toMatch(/from ['"]|import\(|require\(/)
  })
})
