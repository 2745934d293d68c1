import { defineConfig } from 'drizzle-kit'

// The sharding catalog's own schema and migrations (docs/sharding.md), recorded in a table of
// their own (as src/db/migrate.ts does), so the catalog may share a shard's database.
export default defineConfig({
  dialect: 'postgresql',
  schema: './src/db/catalog-schema.ts',
  out: './drizzle-catalog',
  dbCredentials: { url: process.env.CATALOG_DATABASE_URL ?? '' },
  migrations: { table: '__drizzle_catalog_migrations', schema: 'drizzle' },
})
