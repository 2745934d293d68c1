import { describe, expect, it } from 'vitest'
import { bundleClient } from '../../scripts/bundle-client.js'

describe('the browser copy of the client library', () => {
  it('carries nothing of the server or of zod, which it imports only as types', async () => {
    expect(await bundleClient()).not.toMatch(/from ['"]|import\(|require\(/)
  })
})
