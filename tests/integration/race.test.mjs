// Registry growth racing the scene reads, and the time arguments and
// reading timestamps at the edge of int64 nanoseconds.  These found a heap
// overflow (new buildings read before the scene regrouped them) and two
// signed overflows; they are meant for the ASan+UBSan server of
// `make integration-asan`, where any report fails the test.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, householdsCsv, seedHouseholds, sleep } from './lib.mjs';

// A simulated clock, so that a reading just before the hard bound of 2200
// can be stored (moving the clock there) to exercise the day arithmetic.
const ARGS = ['--clock', 'simulated'];
let srv;
before(async () => {
  srv = await startServer({ args: ARGS });
  await seedHouseholds(srv, 4);
});
after(async () => { await srv.stop(); srv.cleanup(); });

const evidence = (id) => srv.req('GET',
    `/api/v1/scenes/group-rental/households/${id}/evidence`,
    { headers: { 'x-audit-reason': 'race test' } });
const feedback = (id, visit) => srv.req('POST',
    '/api/v1/scenes/group-rental/feedback', { body: JSON.stringify(
        { household_id: id, outcome: 'confirmed', headcount: 3,
          visit_id: `race-${visit}` }) });

// Two or more new building keys (street + committee + building) at once.
function newBuildings(tag, n = 2) {
  const rows = [];
  for (let i = 0; i < n; i++)
    rows.push({ id: `X${tag}${String.fromCharCode(65 + i)}`,
      street: `严桥镇新${tag}`, committee: `严桥一村居委会${tag % 3}`,
      building: `新楼X${tag}${i}`, room: 500 + i });
  return rows;
}

async function upload(rows) {
  const r = await srv.req('POST', '/api/v1/registry/households',
      { body: householdsCsv(rows), contentType: 'text/csv' });
  assert.equal(r.status, 200, r.text);
}

test('new buildings, then evidence or feedback at once, read in bounds',
    async () => {
  for (let k = 0; k < 12; k++) {
    const rows = newBuildings(k, 2 + (k % 3));
    await upload(rows);
    const last = rows[rows.length - 1].id;
    const [e, f] = await Promise.all([evidence(last), feedback(last, k)]);
    assert.ok(e.status < 500, `evidence: ${e.status} ${e.text}`);
    assert.ok(f.status < 500, `feedback: ${f.status} ${f.text}`);
  }
  assert.equal((await srv.req('GET', '/healthz')).status, 200);
  assert.equal(srv.report(), null);
});

test('epoch seconds beyond the representable range get 400', async () => {
  for (const path of ['/api/v1/events?from=99999999999',
    '/api/v1/events?to=-99999999999',
    '/api/v1/households/H0000001/readings?from=9223372037',
    '/api/v1/households/H0000001/readings?to=99999999999999']) {
    const r = await srv.req('GET', path,
        { headers: { 'x-audit-reason': 'range test' } });
    assert.equal(r.status, 400, `${path}: ${r.status} ${r.text}`);
    assert.match(r.json.message, /out of range/);
  }
  const r = await srv.req('GET', '/api/v1/events?from=1764547200');
  assert.equal(r.status, 200, r.text);
});

test('reading timestamps near 2^63 ns are refused, and the server restarts',
    async () => {
  for (const ts of ['9223372036', '9000000000', '7258118400']) {
    const r = await srv.req('POST', '/api/v1/write?precision=s',
        { body: `water,household=H0000001 index=1.0 ${ts}\n` });
    assert.equal(r.status, 400, `${ts}: ${r.status} ${r.text}`);
    assert.equal(r.json.errors[0].field, 'timestamp');
    assert.match(r.json.errors[0].message, /out of range/);
  }
  let r = await srv.req('POST', '/api/v1/admin/clock',
      { body: JSON.stringify({ now: 7258118000 }) });
  assert.equal(r.status, 200, r.text);
  r = await srv.req('POST', '/api/v1/write?precision=s',
      { body: 'water,household=H0000001 index=1.0 7258118399\n' });
  assert.equal(r.status, 200, r.text);
  r = await srv.req('POST', '/api/v1/deliveries', { body: JSON.stringify(
      { order_id: 'EDGE-1', ts: '2262-04-11T23:47:16Z',
        household_id: 'H0000001', recipient: 'r1' }) + '\n' });
  assert.equal(r.status, 400, r.text);
  // The roll-up and the marks at start both see the newest stored hour.
  await sleep(300);
  const dir = srv.dir;
  await srv.stop();
  srv = await startServer({ dir, args: ARGS }); /* the clock: wall time */
  assert.equal((await srv.req('GET', '/healthz')).status, 200);
});

// Several clients at once for a few seconds: registry uploads that add new
// buildings, streets and committees; readings, deliveries and feedback for
// the new flats; and every read fired while they run and right after.
test('registry growth races ingest and every scene read', async () => {
  const deadline = Date.now() + 4000;
  const statuses = [];
  const check = (what) => (r) => {
    statuses.push(r.status);
    assert.ok(r.status < 500 || r.status === 503,
        `${what}: ${r.status} ${r.text}`);
  };
  const reads = ['/api/v1/scenes/group-rental/suspects?limit=50',
    '/api/v1/scenes/group-rental/summary?by=street',
    '/api/v1/scenes/group-rental/summary?by=committee',
    '/api/v1/scenes/group-rental/precision',
    '/api/v1/scenes/elderly-alone/alerts', '/api/v1/events?limit=20',
    '/api/v1/stats/ingest'];
  const writer = async (w) => {
    for (let k = 0; k < 200 && Date.now() < deadline; k++) {
      const tag = 100 + w * 1000 + k;
      const rows = newBuildings(tag, 2 + (k % 2));
      const ids = rows.map((x) => x.id);
      const inflight = [
        evidence(ids[1]).then(check('evidence in flight')),
        feedback(ids[1], tag).then(check('feedback in flight')),
        srv.req('GET', reads[k % reads.length]).then(check('read')),
      ];
      await upload(rows);
      const t0 = Math.floor(Date.now() / 3600e3 - 72) * 3600 + k * 60;
      const lp = ids.flatMap((id) => [
        `water,household=${id} index=${(k * 0.1).toFixed(3)} ${t0}`,
        `electricity,household=${id} delta=0.5 ${t0}`]).join('\n') + '\n';
      inflight.push(srv.req('POST', '/api/v1/write?precision=s',
          { body: lp }).then(check('readings')));
      inflight.push(srv.req('POST', '/api/v1/deliveries', { body: ids.map(
          (id, i) => JSON.stringify({ order_id: `R-${tag}-${i}`, ts: t0,
            household_id: id, recipient: `p${tag}` })).join('\n') + '\n' })
          .then(check('deliveries')));
      inflight.push(evidence(ids[ids.length - 1]).then(check('evidence')));
      inflight.push(feedback(ids[0], tag).then(check('feedback')));
      for (const path of reads)
        inflight.push(srv.req('GET', path).then(check(path)));
      await Promise.all(inflight);
    }
  };
  await Promise.all([0, 1, 2, 3].map(writer));
  assert.ok(statuses.length > 100, `only ${statuses.length} requests`);
  await sleep(400); /* one re-score after the last upload */
  for (const path of reads)
    check(`after: ${path}`)(await srv.req('GET', path));
  assert.equal((await srv.req('GET', '/healthz')).status, 200);
  assert.equal(srv.report(), null);
});
