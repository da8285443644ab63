// Department events that carry coordinates only are counted per residents'
// committee: each is placed at the committee of the nearest registered
// building (store_place_event), within 1 km, else "(unplaced)".  Both the
// back-fill of a new indicator and the live consumer place them; a street
// sent with an event is kept for street grouping.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, householdsCsv, until } from './lib.mjs';

const HOUR = 3600;
const A = '东园一居委';
const B = '梅园二居委';

// Events of source 110 in the last closed hour at the given places.
function events(places, prefix) {
  const hour = Math.floor(Date.now() / 1000 / HOUR) * HOUR - HOUR;
  return places.map(([lat, lon, street], i) => JSON.stringify({
    event_id: `${prefix}${i}`, source: '110', type: 'theft',
    ts: new Date((hour + 60 * (i + 1)) * 1000).toISOString(),
    lat, lon, ...(street ? { street } : {}) })).join('\n');
}

async function value(srv, id, group, want) {
  return until(`${id}/${group} = ${want}`, async () => {
    const s = await srv.req('GET',
        `/api/v1/indicators/${id}/series?group=${encodeURIComponent(group)}`);
    const v = s.json.points.reduce((t, p) => t + (p.value || 0), 0);
    return v === want ? v : null;
  });
}

test('events with coordinates only are counted per committee', async () => {
  const srv = await startServer({ args: ['--indicator_grace_s', '0',
    '--indicator_tick_ms', '200'] });
  try {
    // committee A: two households of one building at 31.2300/121.5000;
    // committee B: one household 1.1 km north of it
    const rows = [
      { id: 'H0000001', committee: A, building: '东园路1号', room: 101,
        lat: 31.2299, lon: 121.5 },
      { id: 'H0000002', committee: A, building: '东园路1号', room: 102,
        lat: 31.2301, lon: 121.5 },
      { id: 'H0000003', committee: B, building: '梅园路9号', room: 901,
        lat: 31.24, lon: 121.5 },
    ];
    let r = await srv.req('POST', '/api/v1/registry/households',
        { body: householdsCsv(rows), contentType: 'text/csv' });
    assert.equal(r.status, 200, r.text);
    // before the indicator exists: back-filled
    r = await srv.req('POST', '/api/v1/events', { body: events([
      [31.2302, 121.5003], [31.2295, 121.4998], [31.2310, 121.5010],
      [31.2385, 121.5], [31.30, 121.5]], 'a') });
    assert.equal(r.status, 200, r.text);
    for (const [id, group] of [['calls_c', 'committee'], ['calls_st', 'street']]) {
      r = await srv.req('POST', '/api/v1/indicators', { body: JSON.stringify({
        id, feed: 'events', filter: { source: '110' }, measure: 'count',
        bucket: '1h', group }) });
      assert.equal(r.status, 201, r.text);
    }
    await value(srv, 'calls_c', A, 3);
    await value(srv, 'calls_c', B, 1);
    await value(srv, 'calls_c', '(unplaced)', 1);
    // live: one with coordinates only, one sent with another street near B
    r = await srv.req('POST', '/api/v1/events', { body: events([
      [31.2405, 121.5002], [31.2395, 121.4995, 'S9']], 'b') });
    assert.equal(r.status, 200, r.text);
    await value(srv, 'calls_c', B, 3);
    await value(srv, 'calls_st', 'S9', 1);
    // live as in the back-fill: an event without a street counts under the
    // street the store placed it at, never "(unplaced)"
    r = await srv.req('GET', `/api/v1/indicators/calls_st/series?group=${
      encodeURIComponent('(unplaced)')}`);
    assert.equal(r.json.points.length, 0, r.text);
    await value(srv, 'calls_st', '陆家嘴街道', 6);
    // the default set counts 110 per committee and day
    await value(srv, 'calls_110_committee', A, 3);
    r = await srv.req('GET', `/api/v1/indicators/calls_c/series?group=${
      encodeURIComponent('(none)')}`);
    assert.equal(r.json.points.length, 0);
  } finally { await srv.stop(); srv.cleanup(); }
});
