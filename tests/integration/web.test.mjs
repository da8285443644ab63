// The UI's files at / and /assets/, and the map boundaries API.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { startServer, request, makeToken } from './lib.mjs';

let srv;
before(async () => { srv = await startServer(); });
after(async () => { await srv.stop(); srv.cleanup(); });

test('/ and /assets/ serve the built UI, and nothing outside it', async () => {
  const page = await request(srv.base, 'GET', '/');
  assert.equal(page.status, 200);
  assert.match(page.headers.get('content-type'), /^text\/html/);
  assert.match(page.text, /assets\/app\.js/);
  const js = await request(srv.base, 'GET', '/assets/app.js');
  assert.equal(js.status, 200);
  assert.match(js.headers.get('content-type'), /^text\/javascript/);
  const echarts = await request(srv.base, 'GET', '/assets/echarts.min.js');
  assert.equal(echarts.status, 200, 'ECharts is served locally, no CDN');
  assert.ok(!/https?:\/\/(cdn|unpkg|jsdelivr)/.test(page.text));
  for (const p of ['/assets/.hidden', '/assets/nope.js', '/assets/a%2Fb'])
    assert.equal((await request(srv.base, 'GET', p)).status, 404, p);
  // a raw path with ../ never leaves web_dir
  const raw = await new Promise((resolve) => {
    const s = connect(srv.port, '127.0.0.1', () => s.write(
        'GET /assets/../../citybrain.conf.sample HTTP/1.1\r\nHost: x\r\n' +
        'Connection: close\r\n\r\n'));
    let out = '';
    s.on('data', (d) => { out += d; });
    s.on('end', () => resolve(out));
  });
  assert.match(raw, /^HTTP\/1\.1 404/);
});

const square = (name, lon = 121.5, lat = 31.2) => ({ type: 'Feature',
  properties: { name }, geometry: { type: 'Polygon', coordinates: [[
    [lon, lat], [lon + 0.01, lat], [lon + 0.01, lat + 0.01], [lon, lat]]] } });

test('boundaries: an admin uploads GeoJSON, roles read it, bad ones say where',
    async () => {
  let r = await srv.req('GET', '/api/v1/map/boundaries');
  assert.equal(r.status, 200);
  assert.deepEqual(r.json.features, []);
  const fc = { type: 'FeatureCollection', features: [square('陆家嘴街道'),
    square('花木街道', 121.52)] };
  r = await srv.req('PUT', '/api/v1/map/boundaries',
      { body: JSON.stringify(fc) });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.features, 2);
  const cm = await makeToken(srv, { name: 'cm', role: 'committee',
    committee: '梅园一居委' });
  r = await request(srv.base, 'GET', '/api/v1/map/boundaries', { token: cm });
  assert.equal(r.status, 200);
  assert.equal(r.json.features[1].properties.name, '花木街道');
  r = await request(srv.base, 'PUT', '/api/v1/map/boundaries',
      { token: cm, body: JSON.stringify(fc) });
  assert.equal(r.status, 403);
  const bad = [
    [{ type: 'Feature' }, /the body must be a GeoJSON FeatureCollection/, true],
    [{ ...fc, features: [square('x'), { ...square('y'), geometry: {
      type: 'Point', coordinates: [121, 31] } }] }, /features\[1\] \('y'\).*Polygon/],
    [{ ...fc, features: [{ ...square('z'), geometry: { type: 'Polygon',
      coordinates: [[[121, 31], [300, 31], [121, 32], [121, 31]]] } }] },
    /features\[0\] \('z'\): position \[300, 31\] is not WGS84/],
    [{ ...fc, features: [{ ...square(''), properties: {} }] },
      /features\[0\]: properties.name is missing/],
    [{ ...fc, features: [{ ...square('short'), geometry: { type: 'Polygon',
      coordinates: [[[121, 31], [121.1, 31], [121, 31]]] } }] },
    /at least 4 positions/],
  ];
  for (const [body, re] of bad) {
    r = await srv.req('PUT', '/api/v1/map/boundaries',
        { body: JSON.stringify(body) });
    assert.equal(r.status, 400, r.text);
    assert.match(r.json.message, re);
  }
  r = await srv.req('PUT', '/api/v1/map/boundaries', { body: '{"type":' });
  assert.equal(r.status, 400);
  assert.match(r.json.message, /line 1, column/);
  // the failed uploads left the good one in place
  r = await srv.req('GET', '/api/v1/map/boundaries');
  assert.equal(r.json.features.length, 2);
});
