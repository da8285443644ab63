#!/bin/sh
# make demo: starts citybrain on ./demo-data and prints how to reach it.
# Ctrl-C stops the server cleanly (SIGINT: queue drained, store closed).
set -e
cd "$(dirname "$0")/.."
DATA=${DEMO_DATA:-demo-data}
LISTEN=${DEMO_LISTEN:-127.0.0.1:8080}
mkdir -p "$DATA"
build/citybrain serve --data "$DATA" --listen "$LISTEN" &
pid=$!
trap 'kill -INT $pid 2>/dev/null; wait $pid' INT TERM
i=0
until curl -sf "http://$LISTEN/healthz" >/dev/null 2>&1; do
    i=$((i + 1)); [ $i -gt 100 ] && { echo "demo: server did not start"; exit 1; }
    sleep 0.1
done
echo
echo "citybrain is running: http://$LISTEN"
echo "admin token:          $(cat "$DATA/admin.token")  (in $DATA/admin.token)"
echo "press Ctrl-C to stop"
wait $pid
