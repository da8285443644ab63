#!/bin/sh
# make demo: a simulated district, back-filled and then streamed live.
#
#   1. simulates DEMO_HOUSEHOLDS households (default 50,000): the 60 days
#      before today as history, and 3 more days to stream live;
#   2. starts citybrain on the embedded store in demo-data/store;
#   3. back-fills the history through the HTTP API (progress shown);
#   4. streams the next days live, a simulated day a minute, moving the
#      server's simulated district clock as it goes;
#   5. keeps serving until Ctrl-C, which stops everything cleanly.
#
# A second run reuses the simulated files and the store: only the live
# part is sent again (as duplicates, harmlessly, then new data).
set -e
cd "$(dirname "$0")/.."
HH=${DEMO_HOUSEHOLDS:-50000}
LISTEN=${DEMO_LISTEN:-127.0.0.1:8080}
DATA=${DEMO_DATA:-demo-data}
start=$(date -d "-60 days" +%F)
today=$(date +%F)
district="$DATA/district-$HH-$start"
store="$DATA/store"
mkdir -p "$DATA"

if [ ! -f "$district/manifest.json" ]; then
    echo "demo: simulating $HH households, $start + 63 days (once; reused later)"
    rm -rf "$DATA"/district-*
    build/citybrain simulate --households "$HH" --days 63 --seed 2026 \
        --start "$start" --water-grain 1d --split-days --out "$district"
    rm -rf "$store"
fi

# The district clock is simulated: the loader moves it as it streams, so
# the plausibility windows and the scenes follow the simulated days.
build/citybrain serve --data "$store" --listen "$LISTEN" --sync normal \
    --clock simulated --alert_rule_defaults 1 --log_level warn &
server=$!
loader=
stop() {
    [ -n "$loader" ] && kill "$loader" 2>/dev/null
    kill -INT "$server" 2>/dev/null
    wait "$server" 2>/dev/null
    echo "demo: stopped"
    exit 0
}
trap stop INT TERM
i=0
until curl -sf "http://$LISTEN/healthz" >/dev/null 2>&1; do
    i=$((i + 1))
    [ $i -gt 100 ] && { echo "demo: the server did not start"; exit 1; }
    sleep 0.1
done
token=$(cat "$store/admin.token")
# the district's street polygons, for the wall's map
curl -sf -X PUT -H "Authorization: Bearer $token" \
    --data-binary @"$district/streets.geojson" \
    "http://$LISTEN/api/v1/map/boundaries" >/dev/null ||
    echo "demo: could not upload the street polygons"
# a one-time login link for the wall (an operator), valid 60 minutes
link=$(build/citybrain login-link --role operator --name wall-screen \
    --minutes 60 --data "$store" --base "http://$LISTEN" 2>/dev/null)
cat <<MSG

  citybrain is running:  http://$LISTEN
  the wall screen:       $link
                         (one-time login link, valid 60 minutes; then sign
                         in at http://$LISTEN with a token)
  admin token:           $token
                         (in $store/admin.token)
  try:  curl -H "Authorization: Bearer \$(cat $store/admin.token)" \\
          'http://$LISTEN/api/v1/scenes/group-rental/suspects?limit=10'
  Ctrl-C stops it.

MSG
backfill=yes
[ -f "$store/.backfilled-$start" ] && backfill=no
build/citybrain load --dir "$district" --url "http://$LISTEN" \
    --token-file "$store/admin.token" --live-from "$today" \
    --backfill "$backfill" --speed 1440 &
loader=$!
wait "$loader" && touch "$store/.backfilled-$start"
loader=
echo "demo: the live stream has ended; still serving, Ctrl-C to stop"
wait "$server"
