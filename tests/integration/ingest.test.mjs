// Every CONTRACT.md ingest rule, against the real server.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { startServer, householdsCsv, seedHouseholds, sleep } from './lib.mjs';

let srv;
before(async () => {
  srv = await startServer({ args: ['--max_body_bytes', '1048576'] });
});
after(async () => { await srv.stop(); srv.cleanup(); });

const lp = (body, q = 'precision=s') => srv.req('POST', `/api/v1/write?${q}`,
    { body, contentType: 'text/plain' });

test('healthz answers without a token', async () => {
  const r = await fetch(`${srv.base}/healthz`);
  assert.equal(r.status, 200);
});

test('registry: CSV upsert, then NDJSON, counted and idempotent', async () => {
  const csv = householdsCsv([{ id: 'R1', room: 201 }, { id: 'R2', room: 202 }]);
  let r = await srv.req('POST', '/api/v1/registry/households',
      { body: csv, contentType: 'text/csv' });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json, { accepted: 2, duplicates: 0 });
  r = await srv.req('POST', '/api/v1/registry/households',
      { body: csv, contentType: 'text/csv' });
  assert.deepEqual(r.json, { accepted: 0, duplicates: 2 });
  const nd = JSON.stringify({ household_id: 'R3', street: '花木街道',
    committee: '联洋居委', building: '芳甸路1弄2号', address: '芳甸路1弄2号301室',
    lat: 31.21, lon: 121.55, area_m2: 88.5, rooms: 3,
    registered_occupants: 4 }) + '\n';
  r = await srv.req('POST', '/api/v1/registry/households',
      { body: nd, contentType: 'application/x-ndjson' });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.accepted, 1);
  r = await srv.req('GET', '/api/v1/households/R3');
  assert.equal(r.status, 200);
  assert.equal(r.json.rooms, 3);
  assert.equal(r.json.registered_occupants, 4);
});

test('registry: a bad row rejects the whole batch with line/column/field',
    async () => {
  const csv = householdsCsv([{ id: 'B1', room: 301 }]) +
      'B2,陆家嘴街道,梅园一居委,x,张杨路1号,31.2,121.5,-5,2,2\n';
  const r = await srv.req('POST', '/api/v1/registry/households',
      { body: csv, contentType: 'text/csv' });
  assert.equal(r.status, 400);
  const e = r.json.errors[0];
  assert.equal(e.line, 3);
  assert.equal(e.field, 'area_m2');
  assert.ok(e.column > 1);
  const g = await srv.req('GET', '/api/v1/households/B1');
  assert.equal(g.status, 404, 'nothing from a rejected batch is stored');
});

test('readings: accepted, then duplicates on resend', async () => {
  const [h1, h2] = await seedHouseholds(srv, 2);
  const body = `water,household=${h1} index=10.5 1764547200\n` +
      `electricity,household=${h2} delta=0.84 1764547200\n`;
  let r = await lp(body);
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json, { accepted: 2, duplicates: 0 });
  r = await lp(body);
  assert.deepEqual(r.json, { accepted: 0, duplicates: 2 });
  r = await srv.req('GET',
      `/api/v1/households/${h1}/readings?metric=water`);
  assert.equal(r.status, 200);
  assert.equal(r.json.length, 1);
});

test('readings: one bad line rejects all; on_error=skip stores the rest',
    async () => {
  const [h1] = await seedHouseholds(srv, 1);
  const body = `gas,household=${h1} index=1 1764600000\n` +
      `steam,household=${h1} index=1 1764600000\n` +
      `gas,household=NOPE index=1 1764600000\n`;
  let r = await lp(body);
  assert.equal(r.status, 400);
  assert.equal(r.json.errors.length, 2);
  assert.deepEqual([r.json.errors[0].line, r.json.errors[0].column,
    r.json.errors[0].field], [2, 1, 'measurement']);
  assert.equal(r.json.errors[1].line, 3);
  assert.equal(r.json.errors[1].field, 'household');
  assert.equal(r.json.errors[1].column, 15);
  r = await srv.req('GET', `/api/v1/households/${h1}/readings?metric=gas`);
  assert.equal(r.json.length, 0, 'nothing stored from the rejected batch');
  r = await lp(body, 'precision=s&on_error=skip');
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.accepted, 1);
  assert.equal(r.json.rejected, 2);
  assert.equal(r.json.errors.length, 2);
});

test('readings: precision scales timestamps', async () => {
  const [h1] = await seedHouseholds(srv, 1);
  let r = await lp(`water,household=${h1} index=20 1764547300000`,
      'precision=ms');
  assert.equal(r.json.accepted, 1);
  r = await lp(`water,household=${h1} index=20 1764547300`, 'precision=s');
  assert.equal(r.json.duplicates, 1, 'same instant in another precision');
  r = await lp(`water,household=${h1} index=20 1`, 'precision=hours');
  assert.equal(r.status, 400);
});

test('oversized bodies get 413, by Content-Length and by stream', async () => {
  const big = 'x'.repeat(2 * 1024 * 1024);
  // Refused on the header, before the body: the server answers 413 and
  // closes, so a client still sending may see the reset first (the raw
  // 413 before any body byte is checked in abuse.test.mjs).
  const r = await srv.req('POST', '/api/v1/write', { body: big })
      .catch((e) => ({ status: 'reset', e }));
  assert.ok(r.status === 413 || r.status === 'reset', `got ${r.status}`);
  const stream = new ReadableStream({
    start(c) {
      for (let i = 0; i < 3; i++) c.enqueue(new TextEncoder().encode(big));
      c.close();
    },
  });
  const res = await fetch(`${srv.base}/api/v1/write`, {
    method: 'POST', body: stream, duplex: 'half',
    headers: { authorization: `Bearer ${srv.admin}` },
  }).catch((e) => ({ status: 'reset', e }));
  assert.ok(res.status === 413 || res.status === 'reset',
      `got ${res.status}`);
}, { timeout: 20000 });

test('gzip bodies are accepted, bounded after decompression', async () => {
  const [h1] = await seedHouseholds(srv, 1);
  const body = gzipSync(`water,household=${h1} index=33 1764547500\n`);
  let r = await srv.req('POST', '/api/v1/write?precision=s',
      { body, headers: { 'content-encoding': 'gzip' } });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.accepted, 1);
  const bomb = gzipSync(Buffer.alloc(3 * 1024 * 1024, 0x20));
  r = await srv.req('POST', '/api/v1/write?precision=s',
      { body: bomb, headers: { 'content-encoding': 'gzip' } });
  assert.equal(r.status, 413);
});

test('influx v2 write answers 204, and errors in InfluxDB shape', async () => {
  const [h1] = await seedHouseholds(srv, 1);
  let r = await srv.req('POST',
      '/api/v2/write?org=o&bucket=b&precision=s',
      { body: `electricity,household=${h1} delta=1.5 1764547200` });
  assert.equal(r.status, 204);
  assert.equal(r.text, '');
  r = await srv.req('POST', '/api/v2/write?org=o&bucket=b',
      { body: 'electricity,household=H0000001 delta=abc' });
  assert.equal(r.status, 400);
  assert.equal(r.json.code, 'invalid');
  assert.match(r.json.message, /line 1/);
  r = await fetch(`${srv.base}/api/v2/write?org=o&bucket=b`,
      { method: 'POST', body: 'x', headers: { authorization: 'Token bad' } });
  assert.equal(r.status, 401);
  assert.equal((await r.json()).code, 'unauthorized');
});

test('deliveries: by id and by messy address; unmatched kept and counted',
    async () => {
  const csv = householdsCsv([{ id: 'D1', address: '浦东新区张杨路123弄4号502室' }]);
  await srv.req('POST', '/api/v1/registry/households',
      { body: csv, contentType: 'text/csv' });
  const orders = [
    { order_id: 'MT-1', ts: '2026-11-01T12:34:56+08:00', household_id: 'D1',
      recipient: '9f2c01' },
    { order_id: 'EL-1', ts: 1761971696,
      address: '上海市浦东新区张杨路１２３弄４号楼５０２', recipient: '77ab02' },
    { order_id: 'EL-2', ts: 1761971697, address: '火星路1号', recipient: 'ab' },
  ].map((o) => JSON.stringify(o)).join('\n');
  let r = await srv.req('POST', '/api/v1/deliveries', { body: orders });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.accepted, 3);
  assert.equal(r.json.unmatched, 1);
  r = await srv.req('POST', '/api/v1/deliveries', { body: orders });
  assert.equal(r.json.duplicates, 3);
  r = await srv.req('GET', '/api/v1/stats/ingest');
  assert.equal(r.status, 200);
  assert.ok(JSON.stringify(r.json).includes('deliveries'));
});

test('deliveries: phone numbers are refused as recipients', async () => {
  const r = await srv.req('POST', '/api/v1/deliveries', { body: JSON.stringify(
      { order_id: 'MT-9', ts: 1761971696, household_id: 'D1',
        recipient: '13812345678' }) });
  assert.equal(r.status, 400);
  assert.equal(r.json.errors[0].field, 'recipient');
});

test('events: stored once per (source, event_id)', async () => {
  const ev = { event_id: '120-2026-000123', source: '120',
    type: 'ambulance_dispatch', ts: '2026-11-01T08:02:11+08:00', lat: 31.2304,
    lon: 121.5059, street: '陆家嘴街道', attrs: { priority: 'A' } };
  let r = await srv.req('POST', '/api/v1/events', { body: JSON.stringify(ev) });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json, { accepted: 1, duplicates: 0 });
  r = await srv.req('POST', '/api/v1/events',
      { body: JSON.stringify({ ...ev, source: '110' }) });
  assert.equal(r.json.accepted, 1, 'another source, another event');
  r = await srv.req('POST', '/api/v1/events', { body: JSON.stringify(ev) });
  assert.equal(r.json.duplicates, 1);
  r = await srv.req('POST', '/api/v1/events',
      { body: '{"event_id":"x","source":"110"\n' });
  assert.equal(r.status, 400);
  assert.equal(r.json.errors[0].line, 1);
});

test('index to use: a rollover and a meter replacement', async () => {
  const csv = householdsCsv([{ id: 'M1', room: 901 }]);
  await srv.req('POST', '/api/v1/registry/households',
      { body: csv, contentType: 'text/csv' });
  // 2025-11-01 00:00+08:00 = 1761926400. Hourly water register.
  const t0 = 1761926400;
  const lines = [
    [0, 9999.0], [3600, 9999.5], [7200, 0.3],   // rollover: +0.5, +0.8
    [10800, 0.8],                                 // +0.5
    [14400, 0.05],                                // replacement: new meter
    [18000, 0.45],                                // +0.4
  ].map(([dt, v]) => `water,household=M1 index=${v} ${t0 + dt}`).join('\n');
  const r = await lp(lines);
  assert.equal(r.status, 200, r.text);
  let total;
  for (let i = 0; i < 50; i++) {
    const u = await srv.req('GET',
        '/api/v1/households/M1/usage?from=2025-11-01&to=2025-11-02');
    total = u.json?.[0]?.water;
    if (total !== undefined && Math.abs(total - 2.25) < 1e-6) break;
    await sleep(100);
  }
  // 0.5 + 0.8 + 0.5 + 0.05 (new register from 0) + 0.4 = 2.25
  assert.ok(Math.abs(total - 2.25) < 1e-6, `daily water ${total}`);
  const h = await srv.req('GET', '/api/v1/households/M1');
  const s = JSON.stringify(h.json);
  assert.match(s, /"resets":1/);
  assert.match(s, /"replacements":1/);
});

test('metrics expose ingest counters per feed and token id, not name',
    async () => {
  const r = await fetch(`${srv.base}/metrics`);
  const t = await r.text();
  assert.match(t, /citybrain_ingest_records_total\{feed="readings",source="token-\d+"\} \d+/);
  assert.doesNotMatch(t, /source="admin"/);
  assert.match(t, /citybrain_store_queue_depth \d+/);
  assert.match(t, /citybrain_http_request_duration_seconds_bucket/);
});

test('bad query strings get 400 (and 414 past the budget)', async () => {
  let r = await srv.req('GET', '/api/v1/audit?limit=%ZZ');
  assert.equal(r.status, 400);
  assert.match(r.json.message, /percent-escape/);
  r = await srv.req('GET', `/healthz?${'a=b&'.repeat(100)}`);
  assert.equal(r.status, 414);
  r = await srv.req('POST', '/api/v1/write?precision=fortnight',
      { body: 'water,household=H0000001 index=1 1' });
  assert.equal(r.status, 400);
  assert.match(r.json.message, /precision/);
});

test('events without a street are placed from their coordinates',
    async () => {
  const ev = { event_id: '119-7', source: '119', type: 'fire',
    ts: '2026-11-02T03:00:00+08:00', lat: 31.2101, lon: 121.5499 };
  let r = await srv.req('POST', '/api/v1/events', { body: JSON.stringify(ev) });
  assert.equal(r.status, 200, r.text);
  r = await srv.req('GET', '/api/v1/events?source=119');
  assert.equal(r.status, 200, r.text);
  const got = r.json.find((e) => e.event_id === '119-7');
  assert.equal(got.street, '花木街道', JSON.stringify(got));
  assert.equal(got.placed, true);
  r = await srv.req('GET', '/api/v1/events?source=120');
  assert.equal(r.json[0].street, '陆家嘴街道');
  assert.equal(r.json[0].placed, false);
  assert.deepEqual(r.json[0].attrs, { priority: 'A' });
});
