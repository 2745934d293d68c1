import { spawnSync } from 'node:child_process'
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import ts from 'typescript'
import { REPO_ROOT } from '../lib/server-process.js'

export interface BuildOutput {
  /** Parley's compiled entry point. */
  parleyMain: string
  /** The baselines compiled to plain JavaScript, one `<name>.js` each. */
  baselinesDir: string
}

/**
 * Compiles Parley (`tsc -p tsconfig.build.json`, as `npm run build`) and the baselines, so
 * every server under test runs as plain `node file.js`: a TypeScript loader such as tsx
 * would add a loader thread and its memory to some of them and not to others.
 */
export async function buildServers(outDir: string): Promise<BuildOutput> {
  const tsc = spawnSync(
    process.execPath,
    [join(REPO_ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'],
    {
      cwd: REPO_ROOT,
      encoding: 'utf8',
    },
  )
  if (tsc.status !== 0) throw new Error(`npm run build failed:\n${tsc.stdout}${tsc.stderr}`)

  const sourceDir = join(REPO_ROOT, 'bench', 'baselines')
  const baselinesDir = join(outDir, 'baselines')
  await mkdir(baselinesDir, { recursive: true })
  for (const file of await readdir(sourceDir)) {
    if (!file.endsWith('.ts')) continue
    const { outputText } = ts.transpileModule(await readFile(join(sourceDir, file), 'utf8'), {
      compilerOptions: { module: ts.ModuleKind.ES2022, target: ts.ScriptTarget.ES2022 },
      fileName: file,
    })
    await writeFile(join(baselinesDir, file.replace(/\.ts$/, '.js')), outputText)
  }
  return { parleyMain: join(REPO_ROOT, 'dist', 'src', 'main.js'), baselinesDir }
}
