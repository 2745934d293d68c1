import { channels, parseMessageNotice } from '../../src/db/notify.js'
import { createListener } from '../../src/realtime/listener.js'

// The listening process of the shards scenario, a process of its own so that its CPU time
// is its own: one Parley listener per database URL on the command line, as a process of a
// sharded deployment holds one per shard. Each message notice is parsed, as the hub does
// before it looks the room up; no room has streams here, so that is all a notice costs.
// Says { ready: true } once every listener hears, and { notices } when sent 'count'.

let notices = 0
const consumer = {
  channels: {
    [channels.messages]: (payload: string) => {
      if (parseMessageNotice(payload)) notices++
    },
  },
  onListen: () => {},
}
const listeners = process.argv.slice(2).map((url) =>
  createListener({
    url,
    consumers: [consumer],
    onDown: (error) => console.error(`shard listener down: ${error.message}`),
    probeMs: 5_000,
    applicationName: 'bench-shard-listener',
  }),
)
await Promise.all(listeners.map((listener) => listener.start()))
process.on('message', (message) => {
  if (message === 'count') process.send?.({ notices })
})
process.on('disconnect', () => {
  void Promise.all(listeners.map((listener) => listener.stop())).finally(() => process.exit(0))
})
process.send?.({ ready: true })
