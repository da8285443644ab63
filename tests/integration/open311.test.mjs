// Open311 GeoReport v2 (JSON) the way the spec's examples use it:
// discovery, a service definition, creating a request (form-encoded, and
// JSON), its status, lists by status, service and date; internal cases
// never leak, and only a citizen app's key may file.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, request, makeToken, householdsCsv } from './lib.mjs';

let srv;
const tok = {};
before(async () => {
  srv = await startServer();
  const r = await srv.req('POST', '/api/v1/registry/households', {
    contentType: 'text/csv', body: householdsCsv([{ id: 'H0000001' }]) });
  assert.equal(r.status, 200, r.text);
  tok.app = await makeToken(srv, { name: '12345-app', role: 'citizen_app' });
  tok.operator = await makeToken(srv, { name: 'op', role: 'operator' });
});
after(async () => { await srv.stop(); srv.cleanup(); });

const FORM = 'application/x-www-form-urlencoded';
const get = (path) => request(srv.base, 'GET', path);
const form = (fields) => new URLSearchParams(fields).toString();
const file = (fields, opts = {}) => request(srv.base, 'POST',
    '/open311/v2/requests.json', { body: form(fields), contentType: FORM,
      ...opts });

// An error in the spec's shape: [{"code":STATUS,"description":".."}].
function specError(r, status) {
  assert.equal(r.status, status, r.text);
  assert.ok(Array.isArray(r.json), r.text);
  assert.equal(r.json[0].code, status);
  assert.equal(typeof r.json[0].description, 'string');
}

test('discovery: services.json is public', async () => {
  const r = await get('/open311/v2/services.json');
  assert.equal(r.status, 200, r.text);
  const codes = r.json.map((s) => s.service_code);
  assert.deepEqual(codes, ['garbage', 'noise', 'fire_door']);
  const g = r.json[0];
  assert.equal(g.service_name, '垃圾堆放');
  assert.equal(g.metadata, false);
  assert.equal(g.type, 'realtime');
  for (const k of ['description', 'keywords', 'group'])
    assert.equal(typeof g[k], 'string');
});

test('a service definition', async () => {
  let r = await get('/open311/v2/services/garbage.json');
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json, { service_code: 'garbage', attributes: [] });
  specError(await get('/open311/v2/services/group_rental.json'), 404);
  specError(await get('/open311/v2/services/garbage.xml'), 404);
});

let garbageId, noiseId;
test('create, form-encoded as in the spec, and as JSON', async () => {
  let r = await file({ api_key: tok.app, service_code: 'garbage',
    lat: '31.2304', long: '121.4737', address_string: '张杨路123弄',
    description: '楼道口堆了很多垃圾', email: 'someone@example.com',
    first_name: '张', phone: '13800000000', device_id: 'abc' });
  assert.equal(r.status, 201, r.text);
  assert.equal(r.json.length, 1);
  garbageId = r.json[0].service_request_id;
  assert.match(garbageId, /^\d+$/);
  assert.equal(r.json[0].account_id, null);
  // it is a case, made by the app's token
  const c = await srv.req('GET', `/api/v1/cases/${garbageId}`);
  assert.equal(c.status, 200, c.text);
  assert.equal(c.json.category, 'garbage');
  assert.equal(c.json.source_kind, 'open311');
  assert.equal(c.json.state, 'collected');
  assert.equal(c.json.lat, 31.2304);
  assert.equal(c.json.history[0].who, '12345-app');
  assert.equal(c.json.history[0].role, 'citizen_app');
  assert.ok(!c.text.includes('13800000000'), 'the phone is not kept');
  assert.ok(!c.text.includes('example.com'), 'the e-mail is not kept');
  // JSON, with the key in the Authorization header
  r = await request(srv.base, 'POST', '/open311/v2/requests.json', {
    token: tok.app, contentType: 'application/json',
    body: JSON.stringify({ service_code: 'noise', lat: 31.1, long: 121.4 }) });
  assert.equal(r.status, 201, r.text);
  noiseId = r.json[0].service_request_id;
});

test('status of a request, open and then closed', async () => {
  let r = await get(`/open311/v2/requests/${garbageId}.json`);
  assert.equal(r.status, 200, r.text);
  const q = r.json[0];
  assert.equal(q.service_request_id, garbageId);
  assert.equal(q.status, 'open');
  assert.equal(q.service_code, 'garbage');
  assert.equal(q.service_name, '垃圾堆放');
  assert.equal(q.lat, 31.2304);
  assert.equal(q.long, 121.4737);
  assert.ok(q.requested_datetime && q.updated_datetime);
  assert.ok(!('description' in q), 'the description is not public');
  for (const action of ['check', 'register', 'void']) {
    const t = await srv.req('POST', `/api/v1/cases/${noiseId}/transitions`,
        { body: JSON.stringify({ action }) });
    assert.equal(t.status, 200, t.text);
  }
  r = await get(`/open311/v2/requests/${noiseId}.json`);
  assert.equal(r.json[0].status, 'closed');
  assert.equal(r.json[0].status_notes, 'not accepted');
  specError(await get('/open311/v2/requests/999999.json'), 404);
});

test('lists by status, service, id and date', async () => {
  let r = await get('/open311/v2/requests.json');
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json.map((q) => q.service_request_id).sort(),
      [garbageId, noiseId].sort());
  r = await get('/open311/v2/requests.json?status=open');
  assert.deepEqual(r.json.map((q) => q.service_request_id), [garbageId]);
  r = await get('/open311/v2/requests.json?status=closed&service_code=noise');
  assert.deepEqual(r.json.map((q) => q.service_request_id), [noiseId]);
  r = await get('/open311/v2/requests.json?service_code=fire_door');
  assert.deepEqual(r.json, []);
  r = await get(`/open311/v2/requests.json?service_request_id=${noiseId}`);
  assert.deepEqual(r.json.map((q) => q.service_request_id), [noiseId]);
  // ids: whatever the other filters say (the spec ignores them then)
  r = await get('/open311/v2/requests.json?service_request_id=' +
      `${garbageId},${noiseId},x,999999&status=open` +
      '&start_date=2010-01-01&end_date=2010-01-02');
  assert.deepEqual(r.json.map((q) => q.service_request_id).sort(),
      [garbageId, noiseId].sort());
  r = await get('/open311/v2/requests.json?start_date=2010-01-01T00:00:00Z' +
      '&end_date=2010-02-01T00:00:00Z');
  assert.deepEqual(r.json, []);
  const today = new Date().toISOString().slice(0, 10);
  r = await get(`/open311/v2/requests.json?start_date=${today}T00:00:00Z`);
  assert.equal(r.json.length, 2);
  specError(await get('/open311/v2/requests.json?start_date=yesterday'), 400);
});

test('internal cases never appear, whatever their category', async () => {
  const internal = [
    { category: 'group_rental', source_kind: 'group_rental',
      source_ref: 'H0000001' },
    { category: 'garbage', source_kind: 'elderly', household_id: 'H0000001' },
    { category: 'garbage', source_kind: 'event', source_ref: 'e1', lat: 30.5,
      lon: 121 },
    { category: 'noise', source_kind: 'manual', lat: 30.6, lon: 121 },
    { category: 'garbage', source_kind: 'alert', source_ref: 'a-1', lat: 30.7,
      lon: 121 },
  ];
  const ids = [];
  for (const body of internal) {
    const r = await srv.req('POST', '/api/v1/cases',
        { body: JSON.stringify(body) });
    assert.ok([200, 201].includes(r.status), r.text);
    ids.push(String(r.json.id));
  }
  const list = await get('/open311/v2/requests.json');
  for (const id of ids) {
    assert.ok(!list.json.some((q) => q.service_request_id === id),
        `case ${id} leaked into the public list`);
    specError(await get(`/open311/v2/requests/${id}.json`), 404);
    const byId = await get(`/open311/v2/requests.json?service_request_id=${id}`);
    assert.deepEqual(byId.json, []);
  }
  assert.ok(!list.text.includes('H0000001'));
  // staff cannot pass a case off as a public request
  const r = await srv.req('POST', '/api/v1/cases', { body: JSON.stringify({
    category: 'garbage', source_kind: 'open311', lat: 30.8, lon: 121 }) });
  assert.equal(r.status, 400, r.text);
});

test('only a citizen app\'s key may file', async () => {
  const fields = { service_code: 'garbage', lat: '31.3', long: '121.5' };
  specError(await file(fields), 401);
  specError(await file({ ...fields, api_key: 'cb_' + '0'.repeat(64) }), 401);
  specError(await file({ ...fields, api_key: tok.operator }), 403);
  specError(await file(fields, { token: tok.operator }), 403);
  specError(await request(srv.base, 'POST',
      `/open311/v2/requests.json?api_key=${tok.operator}`,
      { body: form(fields), contentType: FORM }), 403);
  // the app's token opens nothing under /api/ but whoami
  let r = await request(srv.base, 'GET', '/api/v1/cases', { token: tok.app });
  assert.equal(r.status, 403);
  r = await request(srv.base, 'GET', `/api/v1/cases/${garbageId}`,
      { token: tok.app });
  assert.equal(r.status, 403);
  r = await request(srv.base, 'GET', '/api/v1/whoami', { token: tok.app });
  assert.equal(r.status, 200);
  assert.equal(r.json.role, 'citizen_app');
  const list = await get('/open311/v2/requests.json');
  assert.equal(list.json.length, 2, 'nothing was filed by the refused keys');
});

test('bad requests get 400 or 404 in the spec\'s shape', async () => {
  const key = { api_key: tok.app };
  specError(await file({ ...key, lat: '31', long: '121' }), 400);
  specError(await file({ ...key, service_code: 'group_rental', lat: '31',
    long: '121' }), 404);
  let r = await file({ ...key, service_code: 'garbage',
    address_string: '张杨路123弄' });
  specError(r, 400);
  assert.match(r.json[0].description, /'lat'/);
  specError(await file({ ...key, service_code: 'garbage', lat: '91',
    long: '121' }), 400);
  specError(await file({ ...key, service_code: 'garbage', lat: 'x',
    long: '121' }), 400);
  r = await request(srv.base, 'POST', '/open311/v2/requests.json', {
    contentType: 'application/json', body: '{"api_key":' });
  specError(r, 400);
  r = await request(srv.base, 'POST', '/open311/v2/requests.json', {
    contentType: FORM, body: 'api_key=%ZZ' });
  specError(r, 400);
});

test('a body is bounded before its key is known: 413', async () => {
  const big = 'description=' + 'x'.repeat(5000) +
      '&service_code=garbage&lat=31&long=121';
  specError(await file({}, { body: big, token: tok.app }), 413);
  const huge = JSON.stringify({ api_key: 'x', d: 'y'.repeat(70000) });
  const r = await request(srv.base, 'POST', '/open311/v2/requests.json',
      { body: huge, contentType: 'application/json' })
      .catch(() => ({ status: 'reset' }));
  assert.ok(r.status === 413 || r.status === 'reset', `${r.status}`);
});
