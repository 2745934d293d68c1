-- Rebuilds the message search column and its index with another text search
-- configuration, to match a new SEARCH_CONFIG. Parley refuses to start while the two
-- differ. A one-off that rewrites every message and locks the table while it runs:
--
--   psql "$DATABASE_URL" -v config=english -f sql/search-config.sql
--
-- The configurations this database knows: select cfgname from pg_ts_config;
\set ON_ERROR_STOP on
begin;
drop index if exists messages_search_idx;
alter table messages drop column if exists search_vector;
alter table messages add column search_vector tsvector
  generated always as (to_tsvector(:'config'::regconfig, body)) stored;
create index messages_search_idx on messages using gin (room_lexemes(room_id, search_vector))
  with (fastupdate = off);
commit;
