#!/bin/sh
# Fails if SQL or a database handle leaves the storage layer: no file under
# src/ outside the storage layer's directories may name sqlite3 (its header,
# types or calls) or borrow a raw connection (store_read_begin, a test and
# benchmark seam).  Modules load through the store's typed snapshot scans
# and take the ingest log as registered consumers (src/store/store.h).
STORAGE_DIRS="src/store"
cd "$(dirname "$0")/.." || exit 2
exclude=""
for d in $STORAGE_DIRS; do exclude="$exclude -e ^$d/"; done
hits=$(grep -rnE 'sqlite3|store_read_begin|store_read_end' src \
    --include='*.c' --include='*.h' | grep -v $exclude)
if [ -n "$hits" ]; then
    echo "layers: SQL or a database handle outside $STORAGE_DIRS:"
    echo "$hits"
    exit 1
fi
# JSON output goes through the JSON writer (src/util/jsonw.h), which always
# writes valid UTF-8: no C source types a "\"key\":" literal by hand.
json=$(grep -rnE '\\"[A-Za-z0-9_]*\\":' src --include='*.c' --include='*.h')
if [ -n "$json" ]; then
    echo "layers: hand-typed JSON keys (use jsonw_* from src/util/jsonw.h):"
    echo "$json"
    exit 1
fi
echo "layers: ok (no sqlite3 outside $STORAGE_DIRS, no hand-typed JSON)"
