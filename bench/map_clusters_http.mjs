// bench/map_clusters_http.mjs [HOUSEHOLDS] [DAYS] [RUNS]: the clustering
// endpoint end to end, GET /api/v1/map/clusters over HTTP on a real server
// whose markers come the real way: a simulated district of HOUSEHOLDS
// (default 200,000; DAYS days, default 8, seed 11) is loaded through the
// API, the scenes score it, and the endpoint lists their suspects and open
// elderly alerts, looks up the flats' positions in the store and clusters
// them for the view (map.h).  Per view RUNS (default 31) requests, one at a
// time on a kept-alive connection, timed from just before the request to
// the last byte of the answer.  Views: the district at zoom 11 and 13 and
// its first street at zoom 15 (bench/map_cluster's, on this district's
// box).  The library alone at 2,000,000 households is bench/map_cluster.
// Run from the repository root after `make`.  Prints one JSON object.
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { startServer, tempDir, BIN, sleep } from '../tests/integration/lib.mjs';

const households = Number(process.argv[2] || 200000);
const days = Number(process.argv[3] || 8);
const runs = Number(process.argv[4] || 31);
const dir = tempDir('citybrain-bench-clusters-');
const load0 = loadavg().map((x) => +x.toFixed(2));

let t0 = Date.now();
execFileSync(BIN, ['simulate', '--households', String(households), '--days',
  String(days), '--seed', '11', '--start', '2026-11-20', '--water-grain', '1d',
  '--out', join(dir, 'sim')], { stdio: 'ignore' });
const simulateS = (Date.now() - t0) / 1000;
const srv = await startServer({ args: ['--sync', 'normal'] });
t0 = Date.now();
execFileSync(BIN, ['load', '--dir', join(dir, 'sim'), '--url', srv.base,
  '--token-file', join(srv.dir, 'admin.token')], { stdio: 'ignore' });
const loadS = (Date.now() - t0) / 1000;

// The views, on the district's own box and its first street's.
const geo = JSON.parse(readFileSync(join(dir, 'sim', 'streets.geojson'), 'utf8'));
const boxOf = (features) => {
  const b = [180, 90, -180, -90];
  const walk = (c) => (typeof c[0] === 'number'
    ? (b[0] = Math.min(b[0], c[0]), b[1] = Math.min(b[1], c[1]),
    b[2] = Math.max(b[2], c[0]), b[3] = Math.max(b[3], c[1]))
    : c.forEach(walk));
  features.forEach((f) => walk(f.geometry.coordinates));
  return b.map((x) => x.toFixed(6)).join(',');
};
const district = boxOf(geo.features);
const views = [
  { name: 'the district, zoom 11', zoom: 11, bbox: district },
  { name: 'the district, zoom 13', zoom: 13, bbox: district },
  { name: 'a street, zoom 15', zoom: 15, bbox: boxOf(geo.features.slice(0, 1)) },
];
const get = (v) => srv.req('GET', `/api/v1/map/clusters?zoom=${v.zoom}&bbox=${v.bbox}`);

// The scenes score what was loaded in the background: wait until the
// markers stop changing (1 s apart, twice).
let markers = -1, same = 0;
t0 = Date.now();
while (same < 2 && Date.now() - t0 < 600000) {
  await sleep(1000);
  const n = (await get(views[0])).json?.markers ?? -1;
  same = n === markers ? same + 1 : 0;
  markers = n;
}
const suspects = (await srv.req('GET', '/api/v1/scenes/group-rental/summary'))
  .json?.groups?.reduce((a, g) => a + g.suspects, 0);
const elderly = (await srv.req('GET', '/api/v1/scenes/elderly-alone/alerts'))
  .json?.alerts?.length;

const out = [];
for (const v of views) {
  const ms = [];
  let r;
  for (let i = 0; i < runs; i++) {
    const s = performance.now();
    r = await get(v);
    ms.push(performance.now() - s);
    if (r.status !== 200) throw new Error(`${v.name}: ${r.status} ${r.text}`);
  }
  ms.sort((a, b) => a - b);
  const q = (p) => +ms[Math.min(runs - 1, Math.floor(runs * p))].toFixed(2);
  out.push({ view: v.name, bbox: v.bbox, markers_in_view: r.json.markers,
    clusters: r.json.clusters.length, bytes: r.text.length,
    ms: { median: q(0.5), p95: q(0.95), max: q(1) } });
}
console.log(JSON.stringify({ households, days, runs, simulate_s: simulateS,
  load_s: loadS, markers, suspects, elderly_alerts: elderly, views: out,
  loadavg_before: load0, loadavg_after: loadavg().map((x) => +x.toFixed(2)) },
null, 1));
await srv.stop();
srv.cleanup();
rmSync(dir, { recursive: true, force: true });
