// A household's hourly use (GET /households/{id}/usage?grain=hour): the
// hours the roll-up derived from index readings, which add up to the daily
// use of the same days; audited and scoped by committee like the daily
// read, which stays the default grain.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, householdsCsv, makeToken, sleep } from './lib.mjs';

const T0 = 1761926400; // 2025-11-01 00:00 +08:00
const HOURS = 50;      // two district days and two hours of the third
let srv, mine, other;

// Hourly water and electricity registers of H0000001 (both hourly) and of
// OTHER-1 (another committee's), whose use varies from hour to hour.
function readings(id, k) {
  const lines = [];
  let w = 100, e = 5000;
  for (let h = 0; h <= HOURS; h++) {
    const ts = T0 + h * 3600;
    lines.push(`water,household=${id} index=${w.toFixed(3)} ${ts}`);
    lines.push(`electricity,household=${id} index=${e.toFixed(2)} ${ts}`);
    w += 0.001 * ((h * 7 + k) % 13);  // 0 to 0.012 m3 an hour
    e += 0.01 * ((h * 5 + k) % 31);   // 0 to 0.30 kWh an hour
  }
  return lines.join('\n');
}

async function until(path, ok) {
  let r;
  for (let i = 0; i < 100; i++) {
    r = await srv.req('GET', path);
    if (r.status === 200 && ok(r.json)) return r.json;
    await sleep(100);
  }
  assert.fail(`${path}: ${r.status} ${r.text.slice(0, 300)}`);
}

before(async () => {
  srv = await startServer({ args: ['--rollup_flush_ms', '50'] });
  const csv = householdsCsv([
    { id: 'H0000001', room: 101 },
    { id: 'OTHER-1', committee: '别的居委', room: 888 }]);
  const r = await srv.req('POST', '/api/v1/registry/households',
      { body: csv, contentType: 'text/csv' });
  assert.equal(r.status, 200, r.text);
  for (const [id, k] of [['H0000001', 3], ['OTHER-1', 8]]) {
    const w = await srv.req('POST', '/api/v1/write?precision=s',
        { body: readings(id, k) });
    assert.equal(w.status, 200, w.text);
  }
  mine = await makeToken(srv, { name: 'cm', role: 'committee',
    committee: '梅园一居委' });
  other = await makeToken(srv, { name: 'cm2', role: 'committee',
    committee: '别的居委' });
});

after(async () => {
  await srv.stop();
  srv.cleanup();
});

test('hourly use sums to the daily use, hour by hour in district time',
    async () => {
  const q = 'from=2025-11-01&to=2025-11-03';
  const hours = await until(
      `/api/v1/households/H0000001/usage?grain=hour&${q}`,
      (j) => Array.isArray(j) && j.length === HOURS);
  const days = await until(`/api/v1/households/H0000001/usage?${q}`,
      (j) => Array.isArray(j) && j.length === 3);
  // the first hour is 00:00-01:00 of 2025-11-01, district time
  assert.equal(hours[0].hour, '2025-11-01T00:00:00+08:00');
  assert.equal(hours[HOURS - 1].hour, '2025-11-03T01:00:00+08:00');
  const sums = {};
  for (const h of hours) {
    assert.match(h.hour, /^\d{4}-\d\d-\d\dT\d\d:00:00\+08:00$/);
    const day = h.hour.slice(0, 10);
    sums[day] ??= { water: 0, electricity: 0 };
    sums[day].water += h.water ?? 0;
    sums[day].electricity += h.electricity ?? 0;
  }
  for (const d of days) {
    assert.ok(sums[d.day], `hours of ${d.day}`);
    for (const m of ['water', 'electricity'])
      assert.ok(Math.abs(sums[d.day][m] - d[m]) < 1e-6,
          `${d.day} ${m}: hours ${sums[d.day][m]}, day ${d[m]}`);
  }
  // the uses differ hour to hour: an hour is not a day's share
  const third = hours[2];
  assert.ok(Math.abs(third.water - 0.001 * ((2 * 7 + 3) % 13)) < 1e-9,
      JSON.stringify(third));
  // a narrower range: the hours of one district day
  const one = await srv.req('GET',
      '/api/v1/households/H0000001/usage?grain=hour&from=2025-11-02&to=2025-11-02');
  assert.equal(one.json.length, 24);
  assert.equal(one.json[0].hour, '2025-11-02T00:00:00+08:00');
});

test('daily stays the default grain; a bad grain is 400', async () => {
  const d = await srv.req('GET',
      '/api/v1/households/H0000001/usage?grain=day&from=2025-11-01');
  const plain = await srv.req('GET',
      '/api/v1/households/H0000001/usage?from=2025-11-01');
  assert.deepEqual(d.json, plain.json);
  assert.ok(plain.json[0].day);
  const bad = await srv.req('GET',
      '/api/v1/households/H0000001/usage?grain=minute');
  assert.equal(bad.status, 400);
  assert.match(bad.json.message, /grain/);
});

test('a committee reads its own households hourly, not another\'s; audited',
    async () => {
  const path = (id) => `/api/v1/households/${id}/usage?grain=hour` +
      '&from=2025-11-01&to=2025-11-03';
  const own = await srv.req('GET', path('H0000001'),
      { token: mine, headers: { 'x-audit-reason': 'visit 7' } });
  assert.equal(own.status, 200);
  assert.equal(own.json.length, HOURS);
  const denied = await srv.req('GET', path('OTHER-1'), { token: mine });
  assert.equal(denied.status, 403);
  assert.doesNotMatch(denied.text, /water|electricity/);
  const theirs = await srv.req('GET', path('OTHER-1'), { token: other });
  assert.equal(theirs.status, 200);
  assert.equal(theirs.json.length, HOURS);
  const audit = await srv.req('GET', '/api/v1/audit?limit=50');
  const rows = audit.json.filter((a) => a.who === 'cm');
  assert.ok(rows.some((a) => a.action === 'household.usage' &&
      a.object === 'household:H0000001' && a.reason === 'visit 7'),
      JSON.stringify(rows));
  assert.ok(rows.some((a) => a.action === 'household.usage.denied' &&
      a.object === 'household:OTHER-1'), JSON.stringify(rows));
});
