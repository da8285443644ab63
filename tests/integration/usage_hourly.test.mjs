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
  // OTHER-1's readings were sent after H0000001's: wait for their roll-up
  await until(path('OTHER-1'), (j) => Array.isArray(j) && j.length === HOURS);
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

// Hourly use per street and for the district (the default indicators
// *_use_street_hourly and *_use_district_hourly): each hour's point is the
// sum of the households' hourly use, live as the roll-up applies readings
// and back-filled from the hourly tier for a declaration added later.
test('hourly use indicators: street and district totals per hour',
    async () => {
  const s = await startServer({ args: ['--rollup_flush_ms', '50',
    '--indicator_grace_s', '0', '--indicator_tick_ms', '100'] });
  try {
    const csv = householdsCsv([
      { id: 'A1', street: 'S1', room: 1 }, { id: 'A2', street: 'S1', room: 2 },
      { id: 'B1', street: 'S2', room: 3 }]);
    let r = await s.req('POST', '/api/v1/registry/households',
        { body: csv, contentType: 'text/csv' });
    assert.equal(r.status, 200, r.text);
    const top = Math.floor(Date.now() / 3600000) * 3600 - 3600;
    const from = top - 24 * 3600;
    const lines = [];
    ['A1', 'A2', 'B1'].forEach((id, k) => {
      let e = 1000;
      for (let t = from; t <= top; t += 3600) {
        lines.push(`electricity,household=${id} index=${e.toFixed(2)} ${t}`);
        e += 0.01 * ((t / 3600 + 7 * k) % 29);
      }
    });
    r = await s.req('POST', '/api/v1/write?precision=s',
        { body: lines.join('\n') });
    assert.equal(r.status, 200, r.text);
    const iso = (t) => new Date(t * 1000).toISOString().slice(0, 19);
    const hourly = async (id) => {
      const j = (await s.req('GET', `/api/v1/households/${id}/usage` +
          `?grain=hour&from=${from - 86400}`)).json;
      return new Map(j.map((h) => [Date.parse(h.hour) / 1000, h.electricity]));
    };
    const series = async (ind, group) => {
      const j = (await s.req('GET', `/api/v1/indicators/${ind}/series` +
          `?group=${group}&from=${iso(from)}Z&to=${iso(top)}Z`)).json;
      return new Map(j.points.map((p) => [Date.parse(p.ts) / 1000, p.value]));
    };
    // wait until every hour of the day is in both the roll-up and a point
    let a1, a2, b1, s1, dist;
    for (let i = 0; i < 100; i++) {
      [a1, a2, b1] = [await hourly('A1'), await hourly('A2'),
        await hourly('B1')];
      s1 = await series('power_use_street_hourly', 'S1');
      dist = await series('power_use_district_hourly', 'district');
      if (a1.size === 24 && s1.size === 24 && dist.size === 24) break;
      await sleep(100);
    }
    assert.equal(a1.size, 24);
    assert.equal(s1.size, 24, `street points: ${s1.size}`);
    for (const [t, v] of s1) {
      assert.ok(Math.abs(v - (a1.get(t) + a2.get(t))) < 1e-6,
          `S1 at ${iso(t)}: ${v} vs ${a1.get(t)} + ${a2.get(t)}`);
      assert.ok(Math.abs(dist.get(t) - (v + b1.get(t))) < 1e-6,
          `district at ${iso(t)}`);
    }
    // declared later: back-filled from the stored hours, the same totals
    r = await s.req('POST', '/api/v1/indicators', { body: JSON.stringify({
      id: 'power_s_2h', feed: 'usage', filter: { metric: 'electricity' },
      measure: 'sum', bucket: '2h', group: 'street', retention: '60d' }) });
    assert.equal(r.status, 201, r.text);
    let two;
    for (let i = 0; i < 50; i++) {
      two = await series('power_s_2h', 'S2');
      if (two.size >= 12) break;
      await sleep(100);
    }
    for (const [t, v] of two)
      assert.ok(Math.abs(v - ((b1.get(t) ?? 0) + (b1.get(t + 3600) ?? 0)))
          < 1e-6, `S2 2h at ${iso(t)}: ${v}`);
    assert.ok(two.size >= 12, `2h points: ${two.size}`);
    r = await s.req('POST', '/api/v1/indicators', { body: JSON.stringify({
      id: 'bad', feed: 'usage', measure: 'sum', bucket: '5h' }) });
    assert.equal(r.status, 400);
    // the ingest indicators count what was sent, not the derived use
    const ing = (await s.req('GET',
        '/api/v1/indicators/ingest_records_source/series?limit=100000')).json;
    const groups = new Set(ing.points.map((p) => p.group));
    assert.ok(groups.has('readings.electricity'), [...groups].join());
    assert.ok(!groups.has('electricity'), [...groups].join());
  } finally { await s.stop(); s.cleanup(); }
});
