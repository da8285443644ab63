#!/bin/sh
# The README's pictures: the browser tests (tests/browser/) run on the
# district `make demo` simulates (CB_BROWSER_DISTRICT=demo: 50,000
# households, seed 2026, its 60 days of history), then the wall at
# 1280x720 and the committee's phone page are copied to docs/img/.
# A few minutes on two cores (the district is simulated and loaded).
set -e
cd "$(dirname "$0")/.."
if [ ! -d tests/node_modules/playwright-core ]; then
    (cd tests && npm install --no-audit --no-fund --silent)
fi
CB_BROWSER_DISTRICT=demo node --test --test-concurrency=1 \
    tests/browser/screens.test.mjs
cp build/browser/readme-wall.png docs/img/wall.png
cp build/browser/phone.png docs/img/phone.png
echo "readme-shots: docs/img/wall.png and docs/img/phone.png"
