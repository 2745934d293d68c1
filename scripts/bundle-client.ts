import { mkdirSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'

// The browser client (public/) loads the client library as one plain ES module. It is built,
// never committed: `npm run build` (and so `npm start`), `npm run dev` and the test setup
// write it, and git ignores it. Only types come from src/, so nothing of the server is bundled.

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
export const BUNDLE_PATH = join(root, 'public', 'parley-client.js')

const BANNER = '// Built from client/ by `npm run build:client`; edit client/*.ts, not this file.'

/** The bundle's text. */
export async function bundleClient(): Promise<string> {
  const result = await build({
    entryPoints: [join(root, 'client', 'index.ts')],
    bundle: true,
    format: 'esm',
    target: 'es2022',
    platform: 'neutral',
    charset: 'utf8',
    legalComments: 'none',
    banner: { js: BANNER },
    write: false,
  })
  const [output] = result.outputFiles
  if (!output) throw new Error('esbuild produced no output')
  return output.text
}

/** Builds the bundle and writes it where the server serves it from. */
export async function writeClientBundle(path = BUNDLE_PATH): Promise<string> {
  mkdirSync(dirname(path), { recursive: true })
  writeFileSync(path, await bundleClient())
  return path
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  console.log(`wrote ${await writeClientBundle()}`)
}
