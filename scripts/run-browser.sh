#!/bin/sh
# Runs the browser tests (tests/browser/*.test.mjs): playwright-core
# driving Debian's chromium headless against the real server.  Screenshots
# and measured figures land in build/browser/.
set -e
cd "$(dirname "$0")/.."
if [ ! -d tests/node_modules/playwright-core ]; then
    echo "browser: installing test packages (npm)"
    (cd tests && npm install --no-audit --no-fund --silent)
fi
node --test --test-concurrency=1 tests/browser/*.test.mjs
