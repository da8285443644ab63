// bench/wall.mjs [HOUSEHOLDS] [INGESTS]: the wall screen in Debian's
// chromium (headless, 1920x1080) on a simulated district of HOUSEHOLDS
// (default 20,000; 8 days), served by a fresh server.  Measures:
//   - Largest Contentful Paint of the wall (PerformanceObserver);
//   - the wall live: navigation start to the stream open and the first SSE
//     event drawn (the server's `hello` at connect, drawn into the tiles),
//     and, as before, to the first ingest drawn (sent once the page is
//     ready);
//   - ingest-to-screen: INGESTS (default 20) single-batch ingests, each from
//     just before the POST to the moment the page has drawn its event;
//   - map elements drawn (the ECharts series' data points);
//   - with MARKERS (default 100,000) suspects and elderly alerts in view:
//     the map elements and the frame time (requestAnimationFrame) while the
//     map is panned and zoomed with the mouse.  The district has far fewer
//     suspects, so the page's /api/v1/map/clusters answers come from the
//     same grid clustering (map.h: 64-pixel cells at the view's zoom,
//     centroids) over MARKERS markers placed among the district's streets;
//     the server's own time for that is bench/map_cluster.
// Run from the repository root after `make`.  Prints one JSON object.
// WEB_DIST=DIR serves another build of the page (default web/dist), to
// compare two revisions' pages on the same server build.
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { startServer, tempDir, BIN } from '../tests/integration/lib.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(join(root, 'tests', 'package.json'));
const { chromium } = require('playwright-core');
const households = Number(process.argv[2] || 20000);
const ingests = Number(process.argv[3] || 20);
const markers = Number(process.argv[4] || 100000);
const dir = tempDir('citybrain-bench-wall-');

execFileSync(BIN, ['simulate', '--households', String(households), '--days',
  '8', '--seed', '11', '--start', '2026-11-20', '--water-grain', '1d', '--out',
  join(dir, 'sim')], { stdio: 'ignore' });
const srv = await startServer({ args: ['--web_dir', process.env.WEB_DIST ||
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
const hello = await page.evaluate(() => window.__cb.drawn[0]);
const first = await ingest();
const lat = [first.latency];
for (let i = 1; i < ingests; i++) lat.push((await ingest()).latency);
lat.sort((a, b) => a - b);
const countElements = () => page.evaluate(() => echarts.getInstanceByDom(
    document.getElementById('map')).getOption().series.reduce(
    (a, s) => a + (s.data?.length || 0), 0));
const elements = await countElements();

// MARKERS markers, each at a random point of a random street polygon's
// box that falls inside it, clustered per request as map.h does.
const geo = (await srv.req('GET', '/api/v1/map/boundaries')).json;
const inside = (x, y, ring) => {
  let c = false;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
    const [xi, yi] = ring[i], [xj, yj] = ring[j];
    if ((yi > y) !== (yj > y) && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) c = !c;
  }
  return c;
};
const rings = geo.features.map((f) => (f.geometry.type === 'Polygon'
  ? f.geometry.coordinates[0] : f.geometry.coordinates[0][0]));
const mlon = new Float64Array(markers), mlat = new Float64Array(markers);
const mkind = new Uint8Array(markers);
let seed = 42;
const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
for (let i = 0; i < markers;) {
  const ring = rings[Math.floor(rnd() * rings.length)];
  const xs = ring.map((p) => p[0]), ys = ring.map((p) => p[1]);
  const x = Math.min(...xs) + rnd() * (Math.max(...xs) - Math.min(...xs));
  const y = Math.min(...ys) + rnd() * (Math.max(...ys) - Math.min(...ys));
  if (!inside(x, y, ring)) continue;
  mlon[i] = x; mlat[i] = y; mkind[i++] = rnd() < 0.05 ? 1 : 0;
}
const cluster = (zoom, [w, s, e, n]) => {
  const cell = 90 / 2 ** zoom;
  const cols = Math.ceil((e - w) / cell), rows = Math.ceil((n - s) / cell);
  const cells = new Map();
  let inView = 0;
  for (let i = 0; i < markers; i++) {
    if (mlon[i] < w || mlon[i] >= e || mlat[i] < s || mlat[i] >= n) continue;
    inView++;
    const k = Math.floor((mlat[i] - s) / cell) * cols + Math.floor((mlon[i] - w) / cell);
    const c = cells.get(k) || cells.set(k, { lat: 0, lon: 0, count: 0, suspects: 0,
      elderly: 0 }).get(k);
    c.lat += mlat[i]; c.lon += mlon[i]; c.count++;
    if (mkind[i]) c.elderly++; else c.suspects++;
  }
  if (cols * rows > 65536) return null;
  return { zoom, cell_deg: cell, markers: inView, clusters: [...cells.values()].map(
      (c) => ({ ...c, lat: c.lat / c.count, lon: c.lon / c.count })) };
};
let clusterRequests = 0, maxInView = 0;
await page.route('**/api/v1/map/clusters?*', (route) => {
  const u = new URL(route.request().url());
  const body = cluster(Number(u.searchParams.get('zoom')),
      u.searchParams.get('bbox').split(',').map(Number));
  clusterRequests++;
  if (body) maxInView = Math.max(maxInView, body.markers);
  return body ? route.fulfill({ status: 200, contentType: 'application/json',
    body: JSON.stringify(body) }) : route.fulfill({ status: 413, body: '{}' });
});
// the whole district in view first, as the wall opens
await page.evaluate(() => { wall.clusterView = null; return loadClusters()
    .then((c) => { wall.clusters = c; drawMap(); }); });
const elements100k = await countElements();
const box = await (await page.$('#map')).boundingBox();
const cx = box.x + box.width / 2, cy = box.y + box.height / 2;
await page.evaluate(() => {
  // main-thread tasks over 50 ms: the page's own work, as opposed to a
  // frame that waited for a CPU the other processes held
  window.__long = [];
  new PerformanceObserver((l) => window.__long.push(...l.getEntries()
      .map((e) => e.duration))).observe({ type: 'longtask' });
  window.__frames = [];
  let last = performance.now();
  const tick = (now) => {
    window.__frames.push(now - last);
    last = now;
    if (!window.__stopFrames) requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
});
// the control: the same page for 3 s with nobody touching it, so that what
// the machine's other load does to frames shows apart from the panning
await page.waitForTimeout(3000);
const idle = await page.evaluate(() => { const f = window.__frames.slice(1);
  window.__frames = []; window.__long = []; return f; });
idle.sort((a, b) => a - b);
let maxElements = elements100k;
// PROFILE=1: where the page's CPU goes while panning (top self times)
const cdp = process.env.PROFILE ? await page.context().newCDPSession(page) : null;
if (cdp) { await cdp.send('Profiler.enable'); await cdp.send('Profiler.start'); }
for (let round = 0; round < 4; round++) {
  await page.mouse.move(cx, cy);
  await page.mouse.wheel(0, -300); // zoom in
  await page.waitForTimeout(150);
  await page.mouse.down();
  await page.mouse.move(cx + 200, cy + 120, { steps: 20 }); // pan
  await page.mouse.move(cx - 150, cy - 60, { steps: 20 });
  await page.mouse.up();
  await page.waitForTimeout(400); // re-clustered for the new view
  maxElements = Math.max(maxElements, await countElements());
}
for (let round = 0; round < 4; round++) {
  await page.mouse.wheel(0, 300); // zoom back out
  await page.waitForTimeout(400);
  maxElements = Math.max(maxElements, await countElements());
}
if (cdp) {
  const { profile } = await cdp.send('Profiler.stop');
  const self = new Map();
  const dt = profile.timeDeltas;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  profile.samples.forEach((id, i) => {
    const f = byId.get(id).callFrame;
    const k = `${f.functionName || '(anon)'} ${f.url.split('/').pop()}:${f.lineNumber}`;
    self.set(k, (self.get(k) || 0) + (dt[i] || 0) / 1000);
  });
  console.error([...self].sort((a, b) => b[1] - a[1]).slice(0, 25)
      .map(([k, ms]) => `${ms.toFixed(0).padStart(6)} ms  ${k}`).join('\n'));
}
const frames = await page.evaluate(() => { window.__stopFrames = true;
  return window.__frames.slice(1); });
const longTasks = await page.evaluate(() => window.__long);
frames.sort((a, b) => a - b);
const quant = (xs, p) => Math.round(xs[Math.min(xs.length - 1,
    Math.floor(xs.length * p))] * 10) / 10;
const q = (p) => quant(frames, p);
console.log(JSON.stringify({
  households, load_s: loadS,
  lcp_ms: Math.round(lcp),
  wall_ready_ms: Math.round(await page.evaluate(() => window.__cb.readyAt)),
  stream_open_ms: Math.round(await page.evaluate(() => window.__cb.liveAt)),
  first_sse_event_drawn_ms: Math.round(hello?.at ?? first.at),
  first_sse_event_type: hello?.type,
  first_ingest_drawn_ms: Math.round(first.at),
  ingest_to_screen_ms: { median: lat[lat.length >> 1],
    p90: lat[Math.floor(lat.length * 0.9)], max: lat[lat.length - 1] },
  map_elements: elements,
  with_markers: { markers, in_view_max: maxInView, cluster_requests: clusterRequests,
    map_elements_district: elements100k, map_elements_max: maxElements,
    frames: frames.length, frame_ms: { median: q(0.5), p95: q(0.95), p99: q(0.99),
      max: Math.round(frames[frames.length - 1] * 10) / 10 },
    idle_frame_ms: { frames: idle.length, median: quant(idle, 0.5), p95: quant(idle, 0.95),
      max: quant(idle, 1) },
    long_tasks: { count: longTasks.length,
      max_ms: Math.round(Math.max(0, ...longTasks)) } },
  loadavg_after: (await import('node:os')).loadavg().map((x) => +x.toFixed(2)),
}, null, 1));
await browser.close();
await srv.stop();
srv.cleanup();
rmSync(dir, { recursive: true, force: true }); // the simulated district
