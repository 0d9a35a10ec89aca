#!/bin/sh
# Bytes per row (heap + indexes) of the tables that grow with traffic, in a throwaway database on $PGHOST:$PGPORT
# (default 127.0.0.1:5432, user postgres), migrated by the built apps: `npm run build` first (or the fault suite's copy).
set -e
DB=trackly_storage_$$
HOST=${PGHOST:-127.0.0.1}; PORT=${PGPORT:-5432}
ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
APPS=${APPS_DIR:-$ROOT/dist/apps}
psql -h "$HOST" -p "$PORT" -U postgres -qc "CREATE DATABASE $DB"
trap 'psql -h "$HOST" -p "$PORT" -U postgres -qc "DROP DATABASE $DB WITH (FORCE)"' EXIT
for a in tracking ingest attribution reporting; do
  DATABASE_URL="postgres://postgres@$HOST:$PORT/$DB" LOG_LEVEL=warn node "$APPS/$a/apps/$a/src/main.js" migrate >/dev/null
done
psql -h "$HOST" -p "$PORT" -U postgres -d "$DB" -q -f "$(dirname "$0")/measure.sql"
