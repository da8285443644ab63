// Plausible data: the district clock's windows, the value ranges and the
// spread bound, all settings; one time parser for every read endpoint; a
// store whose main file is gone is not silently rebuilt.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync, truncateSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { startServer, seedHouseholds, tempDir, sleep, makeToken } from
  './lib.mjs';

const DAY = 86400;
const nowS = () => Math.floor(Date.now() / 1000);
// The district (UTC+8) date of epoch seconds t.
const ymd = (t) => new Date((t + 8 * 3600) * 1000).toISOString().slice(0, 10);
let srv, hh;
before(async () => {
  srv = await startServer({ args: ['--rollup_flush_ms', '10'] });
  hh = await seedHouseholds(srv, 3);
});
after(async () => {
  await srv.stop();
  srv.cleanup();
});

const lp = (body, q = '?precision=s') =>
  srv.req('POST', `/api/v1/write${q}`, { body });

test('a timestamp beyond the district clock + 1 day rejects its batch',
    async () => {
  // (2100: later than the hard bound of 2200 would be refused for that)
  const line = `gas,household=${hh[1]} index=1 4102444800`;
  const good = `gas,household=${hh[1]} index=1 ${nowS() - DAY}`;
  let r = await lp(`${good}\n${line}`);
  assert.equal(r.status, 400, r.text);
  const e = r.json.errors[0];
  assert.equal(e.line, 2);
  assert.equal(e.field, 'timestamp');
  assert.equal(e.column, line.lastIndexOf(' ') + 2);
  assert.match(e.message, /2100-.* after the district clock/);
  assert.equal(r.json.stored, 0);
  // Publishers whose meter clocks drift send with on_error=skip.
  r = await lp(`${good}\n${line}`, '?precision=s&on_error=skip');
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.accepted, 1);
  assert.equal(r.json.rejected, 1);
  // Two days ahead is refused; half a day ahead (a meter clock that runs
  // fast) is taken.
  r = await lp(`gas,household=${hh[1]} index=2 ${nowS() + 2 * DAY}`);
  assert.equal(r.status, 400, r.text);
  r = await lp(`gas,household=${hh[1]} index=2 ${nowS() + DAY / 2}`);
  assert.equal(r.status, 200, r.text);
});

test('a timestamp older than the horizon is refused; deliveries too',
    async () => {
  let r = await lp(`gas,household=${hh[1]} index=3 ${nowS() - 800 * DAY}`);
  assert.equal(r.status, 400, r.text);
  assert.match(r.json.errors[0].message, /more than 730 days before/);
  r = await srv.req('POST', '/api/v1/deliveries', {
    body: JSON.stringify({ order_id: 'far', ts: 9000000000,
      household_id: hh[0], recipient: 'r1' }) + '\n' });
  assert.equal(r.status, 400, r.text);
  assert.equal(r.json.errors[0].field, 'ts');
});

test('the windows are settings', async () => {
  const s2 = await startServer({ args: ['--max_age_days', '10',
    '--max_future_s', '0'] });
  const [h] = await seedHouseholds(s2, 1);
  let r = await s2.req('POST', '/api/v1/write?precision=s',
      { body: `water,household=${h} index=1 ${nowS() - 20 * DAY}` });
  assert.equal(r.status, 400, r.text);
  assert.match(r.json.errors[0].message, /more than 10 days before/);
  r = await s2.req('POST', '/api/v1/write?precision=s',
      { body: `water,household=${h} index=1 ${nowS() + 3600}` });
  assert.equal(r.status, 400, r.text);
  r = await s2.req('POST', '/api/v1/write?precision=s',
      { body: `water,household=${h} index=1 ${nowS() - 5 * DAY}` });
  assert.equal(r.status, 200, r.text);
  await s2.stop();
  s2.cleanup();
});

test('absurd values are refused; the ranges are settings', async () => {
  const t = nowS() - 3 * DAY;
  let r = await lp(`water,household=${hh[2]} index=1e308 ${t}`);
  assert.equal(r.status, 400, r.text);
  assert.equal(r.json.errors[0].field, 'index');
  assert.match(r.json.errors[0].message, /not plausible for water/);
  r = await lp(`water,household=${hh[2]} delta=1.8e19 ${t}`);
  assert.equal(r.status, 400, r.text);
  assert.equal(r.json.errors[0].field, 'delta');
  assert.match(r.json.errors[0].message, /water_max_delta/);
  const s2 = await startServer({ args: ['--gas_max_index', '10'] });
  const [h] = await seedHouseholds(s2, 1);
  r = await s2.req('POST', '/api/v1/write?precision=s',
      { body: `gas,household=${h} index=11 ${t}` });
  assert.equal(r.status, 400, r.text);
  r = await s2.req('POST', '/api/v1/write?precision=s',
      { body: `gas,household=${h} index=9 ${t}` });
  assert.equal(r.status, 200, r.text);
  await s2.stop();
  s2.cleanup();
});

test('a late delta after a long gap lands on its day, not on 3,659',
    { timeout: 60000 }, async () => {
  const s2 = await startServer({ args: ['--rollup_flush_ms', '10'],
    env: { CITYBRAIN_MAX_AGE_DAYS: '36500' } });
  const [h] = await seedHouseholds(s2, 1);
  const post = (body) => s2.req('POST', '/api/v1/write?precision=s',
      { body });
  const last = nowS() - 2 * DAY;
  let r = await post(`gas,household=${h} delta=1 ${last - 3659 * DAY}\n` +
      `gas,household=${h} delta=1 ${last}`);
  assert.equal(r.status, 200, r.text);
  const late = Array.from({ length: 200 }, (_, i) =>
    `gas,household=${h} delta=0.5 ${last - DAY - i}`).join('\n');
  r = await post(late);
  assert.equal(r.status, 200, r.text);
  let stats;
  for (let i = 0; i < 100; i++) {
    stats = (await s2.req('GET', '/api/v1/stats/ingest')).json;
    if (stats.rollup_seq >= stats.log_seq && stats.spread_resets >= 201)
      break;
    await sleep(50);
  }
  let days;
  for (let i = 0; i < 100; i++) {
    const u = await s2.req('GET', `/api/v1/households/${h}/usage` +
        `?from=${ymd(last - 3700 * DAY)}&to=${ymd(last)}`);
    days = u.json.filter((d) => d.gas > 0);
    const sum = days.reduce((a, d) => a + d.gas, 0);
    if (Math.abs(sum - 102) < 1e-6) break;
    await sleep(50);
  }
  assert.ok(Math.abs(days.reduce((a, d) => a + d.gas, 0) - 102) < 1e-6);
  assert.ok(days.length <= 4, `use spread over ${days.length} days`);
  assert.ok(stats.spread_resets >= 201, JSON.stringify(stats));
  await s2.stop();
  s2.cleanup();
});

test('from and to: range-checked, real dates, the same forms everywhere',
    async () => {
  const h = hh[0];
  const bad = ['99999999999999', '2026-02-31', '-999-01-01',
    '+2026-11-01', '2026-11-01T25:00:00Z', '2025-02-29'];
  for (const path of [`/api/v1/households/${h}/readings`,
    `/api/v1/households/${h}/usage`, '/api/v1/events']) {
    for (const v of bad) {
      const r = await srv.req('GET', `${path}?from=${encodeURIComponent(v)}`);
      assert.equal(r.status, 400, `${path} from=${v}: ${r.text}`);
      assert.match(r.json.message, /parameter 'from'/);
    }
    for (const v of ['2026-11-28', '2024-02-29', '1764547200',
      '2026-11-28T08:00:00+08:00']) {
      const r = await srv.req('GET', `${path}?from=${encodeURIComponent(v)}`);
      assert.equal(r.status, 200, `${path} from=${v}: ${r.text}`);
    }
    const r = await srv.req('GET', `${path}?from=2026-11-28&to=2026-11-01`);
    assert.equal(r.status, 400, r.text);
  }
});

test('a date as `to` on /readings includes that whole district day',
    async () => {
  const h = hh[2];
  const day = new Date(Date.now() - 5 * DAY * 1000);
  const ymd = day.toISOString().slice(0, 10);
  // 23:30 district time (UTC+8) of that day.
  const t = Date.parse(`${ymd}T23:30:00+08:00`) / 1000;
  let r = await lp(`electricity,household=${h} index=5 ${t}`);
  assert.equal(r.status, 200, r.text);
  r = await srv.req('GET',
      `/api/v1/households/${h}/readings?from=${ymd}&to=${ymd}`);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.length, 1, r.text);
});

test('the district clock: wall by default, and not settable', async () => {
  let r = await srv.req('GET', '/api/v1/admin/clock');
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.clock, 'wall');
  assert.equal(r.json.timezone, '+08:00');
  assert.ok(Math.abs(r.json.now_s - nowS()) < 120, r.text);
  assert.match(r.json.now, /\+08:00$/);
  r = await srv.req('POST', '/api/v1/admin/clock',
      { body: '{"now":"2030-01-01T00:00:00+08:00"}' });
  assert.equal(r.status, 409, r.text);
  const analyst = await makeToken(srv, { name: 'a1', role: 'analyst' });
  r = await srv.req('GET', '/api/v1/admin/clock', { token: analyst });
  assert.equal(r.status, 403);
});

test('a simulated clock moves the windows; the time zone is a setting',
    async () => {
  const s2 = await startServer({ args: ['--clock', 'simulated',
    '--timezone', '+09:00'] });
  const [h] = await seedHouseholds(s2, 1);
  let r = await s2.req('POST', '/api/v1/admin/clock',
      { body: '{"now":"2030-06-01T00:00:00+09:00"}' });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.clock, 'simulated');
  assert.equal(r.json.now, '2030-06-01T00:00:00+09:00');
  const t2030 = Date.parse('2030-05-31T12:00:00Z') / 1000;
  r = await s2.req('POST', '/api/v1/write?precision=s',
      { body: `water,household=${h} index=1 ${t2030}` });
  assert.equal(r.status, 200, 'a reading of the simulated day: ' + r.text);
  r = await s2.req('POST', '/api/v1/write?precision=s',
      { body: `water,household=${h} index=1 ${nowS()}` });
  assert.equal(r.status, 400, 'the wall time is years before it: ' + r.text);
  // A line without a timestamp is stamped with the district clock.
  r = await s2.req('POST', '/api/v1/write', { body: `gas,household=${h} index=3` });
  assert.equal(r.status, 200, r.text);
  r = await s2.req('GET', `/api/v1/households/${h}/readings?metric=gas`);
  assert.equal(r.json[0].ts, '2030-06-01T00:00:00+09:00');
  r = await s2.req('GET', '/api/v1/admin/clock');
  assert.equal(r.json.timezone, '+09:00');
  await s2.stop();
  // a restart goes on from the time last set, not from the wall time
  const s3 = await startServer({ dir: s2.dir, args: ['--clock', 'simulated',
    '--timezone', '+09:00'] });
  try {
    r = await s3.req('GET', '/api/v1/admin/clock');
    assert.equal(r.json.now, '2030-06-01T00:00:00+09:00', r.text);
    r = await s3.req('POST', '/api/v1/write?precision=s',
        { body: `water,household=${h} index=2 ${t2030 + 3600}` });
    assert.equal(r.status, 200, 'still the simulated day: ' + r.text);
  } finally { await s3.stop(); }
  s2.cleanup();
});

test('a missing citybrain.db beside a populated rollup.db refuses to start',
    { timeout: 60000 }, async () => {
  const dir = tempDir();
  let s2 = await startServer({ dir, args: ['--rollup_flush_ms', '10'] });
  const [h] = await seedHouseholds(s2, 1);
  const t = nowS() - 10 * DAY;
  const body = Array.from({ length: 48 }, (_, i) =>
    `water,household=${h} index=${i} ${t + i * 3600}`).join('\n');
  let r = await s2.req('POST', '/api/v1/write?precision=s', { body });
  assert.equal(r.status, 200, r.text);
  await s2.stop();
  const token = readFileSync(join(dir, 'admin.token'), 'utf8');
  truncateSync(join(dir, 'citybrain.db'), 0);
  for (const f of ['citybrain.db-wal', 'citybrain.db-shm'])
    if (existsSync(join(dir, f))) rmSync(join(dir, f));
  const rollupSize = readFileSync(join(dir, 'rollup.db')).length;
  await assert.rejects(startServer({ dir }),
      /citybrain\.db is missing or empty.*--rebuild-rollups/s);
  assert.equal(readFileSync(join(dir, 'admin.token'), 'utf8'), token,
      'no new admin token was written');
  assert.equal(readFileSync(join(dir, 'rollup.db')).length, rollupSize);
  // The explicit flag says to rebuild: the server starts.
  s2 = await startServer({ dir, args: ['--rebuild-rollups'] });
  r = await s2.req('GET', '/api/v1/stats/ingest');
  assert.equal(r.status, 200);
  await s2.stop();
  rmSync(dir, { recursive: true, force: true });
});
