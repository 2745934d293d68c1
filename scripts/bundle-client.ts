import { writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'

// The browser client (public/) loads the client library as one plain ES module, committed
// so that `npm start` and the tests serve it without a build step; a test fails when it no
// longer matches client/. Only types come from src/, so nothing of the server is bundled.

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
export const BUNDLE_PATH = join(root, 'public', 'parley-client.js')

const BANNER = '// Built from client/ by `npm run build:client`; edit client/*.ts, not this file.'

/** The bundle's text, exactly as the committed file must hold it. */
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

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  writeFileSync(BUNDLE_PATH, await bundleClient())
  console.log(`wrote ${BUNDLE_PATH}`)
}
