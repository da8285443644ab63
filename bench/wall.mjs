// bench/wall.mjs [HOUSEHOLDS] [INGESTS]: the wall screen in Debian's
// chromium (headless, 1920x1080) on a simulated district of HOUSEHOLDS
// (default 20,000; 8 days), served by a fresh server.  Measures:
//   - Largest Contentful Paint of the wall (PerformanceObserver);
//   - the wall live: navigation start to the stream open and the first SSE
//     event drawn (an ingest sent right after the page is ready);
//   - ingest-to-screen: INGESTS (default 20) single-batch ingests, each from
//     just before the POST to the moment the page has drawn its event;
//   - map elements drawn (the ECharts series' data points).
// Run from the repository root after `make`.  Prints one JSON object.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { startServer, tempDir, BIN } from '../tests/integration/lib.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(join(root, 'tests', 'package.json'));
const { chromium } = require('playwright-core');
const households = Number(process.argv[2] || 20000);
const ingests = Number(process.argv[3] || 20);
const dir = tempDir('citybrain-bench-wall-');

execFileSync(BIN, ['simulate', '--households', String(households), '--days',
  '8', '--seed', '11', '--start', '2026-11-20', '--water-grain', '1d', '--out',
  join(dir, 'sim')], { stdio: 'ignore' });
const srv = await startServer({ args: ['--web_dir',
  join(root, 'web', 'dist'), '--sync', 'normal'] });
const t0 = Date.now();
execFileSync(BIN, ['load', '--dir', join(dir, 'sim'), '--url', srv.base,
  '--token-file', join(srv.dir, 'admin.token')], { stdio: 'ignore' });
const loadS = (Date.now() - t0) / 1000;
await srv.req('PUT', '/api/v1/map/boundaries',
    { body: readFileSync(join(dir, 'sim', 'streets.geojson'), 'utf8') });
const link = (await srv.req('POST', '/api/v1/login-links', { body:
  JSON.stringify({ name: 'bench', role: 'operator' }) })).json.url;

const browser = await chromium.launch({ executablePath:
  process.env.CHROMIUM || '/usr/bin/chromium', args: ['--no-sandbox'] });
const page = await (await browser.newContext({ viewport:
  { width: 1920, height: 1080 } })).newPage();
await page.goto(srv.base + link);
await page.waitForFunction(() => window.__cb?.ready, null, { timeout: 60000 });
const lcp = await page.evaluate(() => new Promise((resolve) => {
  new PerformanceObserver((l) => {
    const e = l.getEntries();
    resolve(e[e.length - 1].startTime);
  }).observe({ type: 'largest-contentful-paint', buffered: true });
}));
await page.waitForSelector('#live.on');
let ts = 1765000000;
const ingest = async () => {
  const n = await page.evaluate(() => window.__cb.drawn.length);
  const sent = Date.now();
  await srv.req('POST', '/api/v1/write?precision=s',
      { body: `water,household=H0000001 index=${ts - 1764000000} ${ts++}` });
  await page.waitForFunction((k) => window.__cb.drawn.slice(k).some(
      (d) => d.type === 'ingest'), n);
  return page.evaluate(([k, s]) => ({ latency: window.__cb.drawn.slice(k)
      .find((d) => d.type === 'ingest').wallclock - s,
  at: window.__cb.drawn.slice(k).find((d) => d.type === 'ingest').at }),
  [n, sent]);
};
const first = await ingest();
const lat = [first.latency];
for (let i = 1; i < ingests; i++) lat.push((await ingest()).latency);
lat.sort((a, b) => a - b);
const elements = await page.evaluate(() => echarts.getInstanceByDom(
    document.getElementById('map')).getOption().series.reduce(
    (a, s) => a + (s.data?.length || 0), 0));
console.log(JSON.stringify({
  households, load_s: loadS,
  lcp_ms: Math.round(lcp),
  wall_ready_ms: Math.round(await page.evaluate(() => window.__cb.readyAt)),
  stream_open_ms: Math.round(await page.evaluate(() => window.__cb.liveAt)),
  first_sse_event_drawn_ms: Math.round(first.at),
  ingest_to_screen_ms: { median: lat[lat.length >> 1],
    p90: lat[Math.floor(lat.length * 0.9)], max: lat[lat.length - 1] },
  map_elements: elements,
}, null, 1));
await browser.close();
await srv.stop();
srv.cleanup();
