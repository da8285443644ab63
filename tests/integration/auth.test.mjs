// Authentication (401) and authorization (403) per role and endpoint.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, request, makeToken, seedHouseholds } from './lib.mjs';

let srv;
const tok = {};
before(async () => {
  srv = await startServer();
  await seedHouseholds(srv, 2);
  let r = await srv.req('POST', '/api/v1/departments', { body: JSON.stringify(
      { name: 'water-utility', feeds: ['readings'] }) });
  assert.equal(r.status, 201, r.text);
  r = await srv.req('POST', '/api/v1/departments', { body: JSON.stringify(
      { name: 'meituan', feeds: ['deliveries'] }) });
  assert.equal(r.status, 201, r.text);
  tok.admin = srv.admin;
  tok.publisher = await makeToken(srv, { name: 'water', role: 'publisher',
    department: 'water-utility' });
  tok.delivery = await makeToken(srv, { name: 'mt', role: 'publisher',
    department: 'meituan' });
  tok.operator = await makeToken(srv, { name: 'op', role: 'operator' });
  tok.analyst = await makeToken(srv, { name: 'an', role: 'analyst' });
  tok.committee = await makeToken(srv, { name: 'cm', role: 'committee',
    committee: '梅园一居委' });
  tok.othercommittee = await makeToken(srv, { name: 'cm2', role: 'committee',
    committee: '别的居委' });
});
after(async () => { await srv.stop(); srv.cleanup(); });

const call = (who, method, path, body) => request(srv.base, method, path,
    { token: tok[who], body });

const lp = 'water,household=H0000001 index=1 1764547200';
const ev = JSON.stringify({ event_id: 'e1', source: '110', type: 'x',
  ts: 1764547200, lat: 31.2, lon: 121.5 });
const order = JSON.stringify({ order_id: 'MT-1', ts: 1764547200,
  household_id: 'H0000001', recipient: 'abc' });
const reg = 'household_id,street,committee,building,address,lat,lon,area_m2,' +
    'rooms,registered_occupants\nZ1,s,c,b,a,31,121,50,2,1\n';

// [method, path, body, roles allowed]
const matrix = [
  ['POST', '/api/v1/write?precision=s', lp, ['admin', 'publisher']],
  ['POST', '/api/v2/write?bucket=b&precision=s', lp, ['admin', 'publisher']],
  ['POST', '/api/v1/deliveries', order, ['admin', 'delivery']],
  ['POST', '/api/v1/events', ev, ['admin']],
  ['POST', '/api/v1/registry/households', reg, ['admin']],
  ['GET', '/api/v1/households/H0000001', undefined,
    ['admin', 'operator', 'analyst', 'committee']],
  ['GET', '/api/v1/households/H0000001/readings', undefined,
    ['admin', 'operator', 'analyst', 'committee']],
  ['GET', '/api/v1/stats/ingest', undefined,
    ['admin', 'operator', 'analyst', 'committee', 'othercommittee']],
  ['GET', '/api/v1/tokens', undefined, ['admin']],
  ['GET', '/api/v1/audit', undefined, ['admin']],
  ['GET', '/api/v1/departments', undefined, ['admin']],
];
const roles = ['admin', 'publisher', 'delivery', 'operator', 'analyst',
  'committee', 'othercommittee'];

for (const [method, path, body, allowed] of matrix) {
  test(`${method} ${path}: 401 without or with a bad token`, async () => {
    let r = await request(srv.base, method, path, { body });
    assert.equal(r.status, 401);
    r = await request(srv.base, method, path, { body, token: 'cb_nope' });
    assert.equal(r.status, 401);
  });
  test(`${method} ${path}: 403 for roles without the right`, async () => {
    for (const who of roles) {
      const r = await call(who, method, path, body);
      if (allowed.includes(who))
        assert.ok(r.status < 300, `${who}: ${r.status} ${r.text}`);
      else
        assert.equal(r.status, 403, `${who} got ${r.status}`);
    }
  });
}

test('the InfluxDB "Token" scheme is accepted', async () => {
  const r = await fetch(`${srv.base}/api/v1/stats/ingest`,
      { headers: { authorization: `Token ${tok.operator}` } });
  assert.equal(r.status, 200);
});

test('a revoked token gets 401', async () => {
  const t = await makeToken(srv, { name: 'temp', role: 'analyst' });
  const list = await srv.req('GET', '/api/v1/tokens');
  const id = list.json.find((x) => x.name === 'temp').id;
  assert.ok(!JSON.stringify(list.json).includes(t), 'secrets never listed');
  let r = await request(srv.base, 'GET', '/api/v1/stats/ingest', { token: t });
  assert.equal(r.status, 200);
  r = await srv.req('DELETE', `/api/v1/tokens/${id}`);
  assert.equal(r.status, 204);
  r = await request(srv.base, 'GET', '/api/v1/stats/ingest', { token: t });
  assert.equal(r.status, 401);
});

test('household reads are audited with who and why', async () => {
  await request(srv.base, 'GET', '/api/v1/households/H0000002',
      { token: tok.analyst, headers: { 'x-audit-reason': 'case 42' } });
  const r = await srv.req('GET', '/api/v1/audit?limit=50');
  const hit = r.json.find((a) => a.object === 'household:H0000002' &&
      a.who === 'an');
  assert.ok(hit, JSON.stringify(r.json.slice(0, 5)));
  assert.equal(hit.reason, 'case 42');
});

test('a publisher may not write another department\'s feed', async () => {
  const r = await call('publisher', 'POST', '/api/v1/deliveries', order);
  assert.equal(r.status, 403);
});
