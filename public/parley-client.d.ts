// The types of parley-client.js, which `npm run build:client` bundles from client/ and git
// ignores: the browser client's modules are type-checked against the library's source
// (public/tsconfig.json), built or not.
export * from '../client/index.js'
// The client library has no call for GET /search; search.js asks by path for this answer.
export type { SearchPage } from '../src/wire.js'
