import { parseArgs } from 'node:util'
import { loadConfig } from '../config.js'
import { runMigrations } from '../db/migrate.js'
import { loadEnvFile } from '../env-file.js'
import { addShard, connectCatalog, listShards, roomShard, setShardState } from '../shards/catalog.js'
import { moveRoom } from '../shards/move.js'
import type { ShardState } from '../shards/directory.js'

const usage = `Usage: npm run shards -- <command>   (on CATALOG_DATABASE_URL; see docs/sharding.md)

  list                                  every shard, its state and its rooms
  add <name> <url> [--listen-url URL]   migrates the shard's database, then adds it, open
  open <name> | close <name>            takes new rooms again, or no longer (it keeps its rooms)
  drain <name>                          marks it as having its rooms moved away: no new rooms
  where <room id>                       the shard holding a room
  move <room id> <name>                 moves a room to another shard; its writes wait meanwhile`

const STATES: Record<string, ShardState> = { open: 'open', close: 'closed', drain: 'draining' }

async function main(): Promise<void> {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: { 'listen-url': { type: 'string' } },
  })
  const [command, ...args] = positionals
  loadEnvFile()
  const catalogUrl = loadConfig().CATALOG_DATABASE_URL
  if (!catalogUrl) throw new Error(`CATALOG_DATABASE_URL is not set\n\n${usage}`)
  await runMigrations(catalogUrl, 'catalog')
  const catalog = connectCatalog(catalogUrl)
  try {
    if (command === 'list' && args.length === 0) {
      const shards = await listShards(catalog)
      if (shards.length === 0) console.log('no shards: add one with `npm run shards -- add <name> <url>`')
      for (const shard of shards)
        console.log(`${shard.name}\t${shard.state}\t${shard.roomCount} rooms\t${shard.url}`)
    } else if (command === 'add' && args.length === 2) {
      const shard = await addShard(catalog, {
        name: args[0]!,
        url: args[1]!,
        listenUrl: values['listen-url'],
      })
      console.log(`added shard ${shard.name} (id ${shard.id}), open for new rooms`)
    } else if (command && STATES[command] && args.length === 1) {
      if (!(await setShardState(catalog, args[0]!, STATES[command])))
        throw new Error(`no shard named ${args[0]}`)
      console.log(`shard ${args[0]} is ${STATES[command]}`)
    } else if (command === 'where' && args.length === 1 && /^[0-9]{1,15}$/.test(args[0]!)) {
      const shard = await roomShard(catalog, Number(args[0]))
      if (!shard) throw new Error(`no shard holds room ${args[0]}`)
      console.log(`${shard.name}\t${shard.url}`)
    } else if (command === 'move' && args.length === 2 && /^[0-9]{1,15}$/.test(args[0]!)) {
      const moved = await moveRoom(catalog, Number(args[0]), args[1]!)
      console.log(
        `moved room ${moved.roomId} from ${moved.from} to ${moved.to}: ${moved.rows.messages} messages, ` +
          `writes paused ${moved.pauseMs.toFixed(0)} ms`,
      )
    } else {
      throw new Error(usage)
    }
  } finally {
    await catalog.end({ timeout: 5 })
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error)
  process.exit(1)
})
