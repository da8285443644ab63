#!/bin/sh
# make demo: a simulated district, back-filled and then streamed live.
#
#   1. simulates DEMO_HOUSEHOLDS households (default 50,000): the 60 days
#      before today as history, and 3 more days to stream live;
#   2. starts citybrain on the embedded store in demo-data/store;
#   3. back-fills the history through the HTTP API (progress shown);
#   4. streams the next days live, a simulated day a minute, moving the
#      server's simulated district clock as it goes;
#   5. closes the loop once the live stream starts (DEMO_LOOP=no: not):
#      `citybrain auto-case` makes cases of the best unvisited group-rental
#      suspects and of the elderly alerts and dispatches them to their
#      committees; `citybrain committee-sim` plays the committees' workers
#      (a token each), who visit on the district clock and report what
#      the simulator's truth holds (docs/SIMULATOR.md); the evaluation
#      (GET /api/v1/evaluation, the `evaluation` live event) follows;
#   6. keeps serving until Ctrl-C, which stops everything cleanly.
#
# A second run reuses the simulated files and the store: only the live
# part is sent again (as duplicates, harmlessly, then new data).
set -e
cd "$(dirname "$0")/.."
HH=${DEMO_HOUSEHOLDS:-50000}
LISTEN=${DEMO_LISTEN:-127.0.0.1:8080}
DATA=${DEMO_DATA:-demo-data}
LOOP=${DEMO_LOOP:-yes}
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
autocase=
committees=
stop() {
    [ -n "$loader" ] && kill "$loader" 2>/dev/null
    for p in $autocase $committees; do kill -INT "$p" 2>/dev/null; done
    for p in $autocase $committees; do wait "$p" 2>/dev/null; done
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
        curl -H "Authorization: Bearer \$(cat $store/admin.token)" \\
          'http://$LISTEN/api/v1/evaluation'
  Ctrl-C stops it.

MSG
backfill=yes
[ -f "$store/.backfilled-$start" ] && backfill=no
build/citybrain load --dir "$district" --url "http://$LISTEN" \
    --token-file "$store/admin.token" --live-from "$today" \
    --backfill "$backfill" --speed 1440 &
loader=$!
# The loop: once the live stream moves the district clock past the start
# of today (the back-fill's rounds would see half-loaded data).
live_from=$(date -d "$today 00:00 +0800" +%s)
district_now() {
    curl -sf -H "Authorization: Bearer $token" \
        "http://$LISTEN/api/v1/admin/clock" |
        sed -n 's/.*"now_s":\([0-9]*\).*/\1/p'
}
if [ "$LOOP" = yes ]; then
    while kill -0 "$loader" 2>/dev/null; do
        now=$(district_now)
        [ "${now:-0}" -gt "$live_from" ] && break
        sleep 1
    done
    # the policy's tokens, made once: an operator reads the scenes and
    # collects, a call-taker checks and registers, a dispatcher dispatches
    for role in operator call_taker dispatcher; do
        [ -s "$store/auto-case-$role.token" ] ||
            build/citybrain token create --name "auto-case-$role" \
                --role "$role" --data "$store" \
                >"$store/auto-case-$role.token" 2>/dev/null
    done
    build/citybrain auto-case --url "http://$LISTEN" \
        --token-file "$store/auto-case-operator.token" \
        --check-token-file "$store/auto-case-call_taker.token" \
        --dispatch-token-file "$store/auto-case-dispatcher.token" \
        --min-score 0.8 --top 20 --every 5 &
    autocase=$!
    build/citybrain committee-sim --truth "$district" \
        --url "http://$LISTEN" --token-file "$store/admin.token" \
        --report "$DATA/visits.ndjson" >"$DATA/committee-sim.json" &
    committees=$!
    echo "demo: the loop runs: auto-case and committee-sim (visits in" \
        "$DATA/visits.ndjson); see /api/v1/evaluation"
fi
wait "$loader" && touch "$store/.backfilled-$start"
loader=
echo "demo: the live stream has ended; still serving, Ctrl-C to stop"
wait "$server"
