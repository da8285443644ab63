// The role table of docs/API.md, parsed from the doc, checked against the
// route table of src/http/routes.c (the one the router reads), and walked
// cell by cell against a running server: the doc, the code and the
// behaviour cannot drift apart.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer, request, makeToken, seedHouseholds, householdsCsv,
  sleep } from './lib.mjs';
import { jpeg } from './photo-bytes.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const ROLES = ['admin', 'publisher', 'operator', 'analyst', 'committee',
  'supervisor', 'call_taker', 'shift_lead', 'dispatcher', 'department',
  'citizen_app'];

// [{method, pattern, cells: {role: 'yes'|'own'|'no'}, text: {role: cell}}]
function docTable() {
  const md = readFileSync(join(root, 'docs', 'API.md'), 'utf8');
  const lines = md.split('\n');
  const head = lines.findIndex((l) =>
    new RegExp(`^\\| endpoint \\| ${ROLES.join(' \\| ')} \\|$`)
        .test(l));
  assert.ok(head >= 0, 'docs/API.md has no role table');
  const rows = [];
  for (let i = head + 2; i < lines.length && lines[i].startsWith('|'); i++) {
    const cols = lines[i].split('|').slice(1, -1).map((c) => c.trim());
    assert.equal(cols.length, ROLES.length + 1, `API.md role table line: ${lines[i]}`);
    const m = /^`([A-Z]+) (\S+)`$/.exec(cols[0]);
    assert.ok(m, `endpoint cell: ${cols[0]}`);
    const cells = {}, text = {};
    ROLES.forEach((r, k) => {
      const c = cols[k + 1];
      text[r] = c;
      cells[r] = /^yes\b/.test(c) ? 'yes' : /^own\b/.test(c) ? 'own'
        : /^–$/.test(c) ? 'no' : assert.fail(`cell '${c}' in ${cols[0]}`);
    });
    rows.push({ method: m[1], pattern: m[2].replace(/\{id\}/g, '{}'), cells,
      text });
  }
  return rows;
}

// The same from the route table in src/http/routes.c.
function codeTable() {
  const src = readFileSync(join(root, 'src', 'http', 'routes.c'), 'utf8');
  const re = /\{"([A-Z]+)",\s*"([^"]+)",\s*\w+,\s*(PUB|TOK|KEY),\s*\{([^}]*)\}/g;
  const word = { Y: 'yes', OWN: 'own', N: 'no' };
  const rows = [];
  for (const m of src.matchAll(re)) {
    const cells = {};
    m[4].split(',').map((x) => x.trim()).forEach((c, k) => {
      cells[ROLES[k]] = word[c];
    });
    rows.push({ method: m[1], pattern: m[2], pub: m[3] === 'PUB', cells });
  }
  return rows;
}

let srv;
const tok = {};
let seq = 0;
let alertId;
before(async () => {
  // A simulated clock (at wall time) so that an admin may move it.
  srv = await startServer({ args: ['--clock', 'simulated',
    '--indicator_grace_s', '0', '--case_routes', 'garbage=no-feeds'] });
  await seedHouseholds(srv, 2);
  let r = await srv.req('POST', '/api/v1/registry/households', {
    contentType: 'text/csv', body: householdsCsv([
      { id: 'OTHER-1', committee: '别的居委', room: 888 }]) });
  assert.equal(r.status, 200, r.text);
  for (const d of [{ name: 'all-feeds', feeds: ['registry', 'readings',
    'deliveries', 'events'] }, { name: 'no-feeds', feeds: [] }]) {
    r = await srv.req('POST', '/api/v1/departments',
        { body: JSON.stringify(d) });
    assert.equal(r.status, 201, r.text);
  }
  tok.admin = srv.admin;
  tok.publisher = await makeToken(srv, { name: 'pub', role: 'publisher',
    department: 'all-feeds' });
  tok.operator = await makeToken(srv, { name: 'op', role: 'operator' });
  tok.analyst = await makeToken(srv, { name: 'an', role: 'analyst' });
  tok.committee = await makeToken(srv, { name: 'cm', role: 'committee',
    committee: '梅园一居委' });
  for (const role of ['supervisor', 'call_taker', 'shift_lead', 'dispatcher'])
    tok[role] = await makeToken(srv, { name: `${role}-1`, role });
  tok.department = await makeToken(srv, { name: 'dept-1', role: 'department',
    department: 'no-feeds' });
  tok.citizen_app = await makeToken(srv, { name: 'app-1',
    role: 'citizen_app' });
  // outside "own": a publisher of no feed, another committee
  tok.publisher_other = await makeToken(srv, { name: 'pub0',
    role: 'publisher', department: 'no-feeds' });
  tok.committee_other = await makeToken(srv, { name: 'cm2',
    role: 'committee', committee: '别的居委' });
  // readings, so that the scene scores the households
  r = await srv.req('POST', '/api/v1/write?precision=s', { body:
    'water,household=H0000001 index=1 1764547200\n' +
    'water,household=H0000001 index=2 1764550800' });
  assert.equal(r.status, 200, r.text);
  // an alert, for GET /api/v1/alerts/{}
  r = await srv.req('POST', '/api/v1/events', { body: JSON.stringify({
    event_id: 'roles-1', source: '110', type: 'theft',
    ts: Math.floor(Date.now() / 1000) - 7200, lat: 31.2, lon: 121.5,
    street: 'S1' }) });
  assert.equal(r.status, 200, r.text);
  r = await srv.req('POST', '/api/v1/alert-rules', { body: JSON.stringify({
    id: 'roles', indicator: 'calls_110_type', kind: 'threshold', op: '<',
    value: 1000 }) });
  assert.equal(r.status, 201, r.text);
  for (let i = 0; i < 100 && !alertId; i++) {
    r = await srv.req('GET', '/api/v1/alerts');
    alertId = r.json.length ? r.json[0].id : undefined;
    if (!alertId) await sleep(100);
  }
  assert.ok(alertId, 'no alert fired');
  for (let i = 0; i < 50; i++) {  // the scene catches up with the registry
    r = await srv.req('GET',
        '/api/v1/scenes/group-rental/households/H0000001/evidence');
    if (r.status === 200) break;
    await sleep(200);
  }
});
after(async () => { await srv.stop(); srv.cleanup(); });

// A case made and moved on by admin: about a household (routed to its
// committee) or at a place (category garbage: routed to no-feeds).
async function caseAt(about, actions) {
  const body = about === 'place'
    ? { category: 'garbage', lat: 30 + (seq++) * 0.01, lon: 121 }
    : { category: 'group_rental', source_kind: 'group_rental',
      source_ref: about };
  let r = await srv.req('POST', '/api/v1/cases', { body: JSON.stringify(body) });
  assert.ok(r.status === 201 || r.status === 200, r.text);
  const id = r.json.id;
  for (const action of actions) {
    r = await srv.req('POST', `/api/v1/cases/${id}/transitions`,
        { body: JSON.stringify({ action }) });
    assert.equal(r.status, 200, r.text);
  }
  return id;
}
const DISPATCHED = ['check', 'register', 'dispatch'];
// The first step each role may take, from the state it needs.
const CASE_STEP = {
  admin: [[], 'check'], supervisor: [[...DISPATCHED, 'handle', 'feed_back'],
    'verify'], call_taker: [[], 'check'], shift_lead: [[], 'check'],
  dispatcher: [['check', 'register'], 'dispatch'],
  committee: [DISPATCHED, 'handle'], department: [DISPATCHED, 'handle'],
};
// A fresh case per call: household cases need a flat with no open case.
let flat = 2;
async function flatCase() {
  const id = `H${String(++flat).padStart(7, '0')}`;
  const r = await srv.req('POST', '/api/v1/registry/households', {
    contentType: 'text/csv', body: householdsCsv([{ id, room: flat }]) });
  assert.equal(r.status, 200, r.text);
  return id;
}

const lp = 'water,household=H0000001 index=1 1764547200';
const csv = () => householdsCsv([{ id: 'H0000001', room: 101 }]);
// A request that should succeed for each endpoint, and (for "own" cells)
// the same request by the token outside the scope.
const samples = {
  'GET /healthz': () => ({ path: '/healthz' }),
  'HEAD /healthz': () => ({ path: '/healthz' }),
  'GET /metrics': () => ({ path: '/metrics' }),
  'POST /api/v1/registry/households': () => ({
    path: '/api/v1/registry/households', body: csv(),
    contentType: 'text/csv' }),
  'POST /api/v1/write': () => ({ path: '/api/v1/write?precision=s',
    body: lp }),
  'POST /api/v2/write': () => ({ path: '/api/v2/write?bucket=b&precision=s',
    body: lp }),
  'POST /api/v1/deliveries': () => ({ path: '/api/v1/deliveries',
    body: JSON.stringify({ order_id: 'MT-1', ts: 1764547200,
      household_id: 'H0000001', recipient: 'abc' }) }),
  'POST /api/v1/events': () => ({ path: '/api/v1/events',
    body: JSON.stringify({ event_id: 'e1', source: '110', type: 'x',
      ts: 1764547200, lat: 31.2, lon: 121.5 }) }),
  'GET /api/v1/households/{}': () => ({ path: '/api/v1/households/H0000001',
    other: '/api/v1/households/OTHER-1' }),
  'GET /api/v1/households/{}/readings': () => ({
    path: '/api/v1/households/H0000001/readings',
    other: '/api/v1/households/OTHER-1/readings' }),
  'GET /api/v1/households/{}/usage': () => ({
    path: '/api/v1/households/H0000001/usage',
    other: '/api/v1/households/OTHER-1/usage' }),
  'GET /api/v1/stats/ingest': () => ({ path: '/api/v1/stats/ingest' }),
  'GET /api/v1/events': () => ({ path: '/api/v1/events' }),
  'POST /api/v1/tokens': () => ({ path: '/api/v1/tokens',
    body: JSON.stringify({ name: `t${seq++}`, role: 'analyst' }) }),
  'GET /api/v1/tokens': () => ({ path: '/api/v1/tokens' }),
  'DELETE /api/v1/tokens/{}': async () => {
    const r = await srv.req('POST', '/api/v1/tokens', { body: JSON.stringify(
        { name: `gone${seq++}`, role: 'analyst' }) });
    return { path: `/api/v1/tokens/${r.json.id}` };
  },
  'POST /api/v1/departments': () => ({ path: '/api/v1/departments',
    body: JSON.stringify({ name: `d${seq++}`, feeds: ['events'] }) }),
  'GET /api/v1/departments': () => ({ path: '/api/v1/departments' }),
  'GET /api/v1/admin/clock': () => ({ path: '/api/v1/admin/clock' }),
  'POST /api/v1/admin/clock': () => ({ path: '/api/v1/admin/clock',
    body: JSON.stringify({ now: Math.floor(Date.now() / 1000) }) }),
  'GET /api/v1/audit': () => ({ path: '/api/v1/audit' }),
  'GET /api/v1/whoami': () => ({ path: '/api/v1/whoami' }),
  'GET /api/v1/scenes/group-rental/suspects': () => ({
    path: '/api/v1/scenes/group-rental/suspects' }),
  'GET /api/v1/scenes/group-rental/summary': () => ({
    path: '/api/v1/scenes/group-rental/summary' }),
  'GET /api/v1/scenes/group-rental/households/{}/evidence': () => ({
    path: '/api/v1/scenes/group-rental/households/H0000001/evidence',
    other: '/api/v1/scenes/group-rental/households/OTHER-1/evidence' }),
  'POST /api/v1/scenes/group-rental/feedback': () => ({
    path: '/api/v1/scenes/group-rental/feedback',
    body: JSON.stringify({ household_id: 'H0000001', outcome: 'no_access' }),
    otherBody: JSON.stringify({ household_id: 'OTHER-1',
      outcome: 'no_access' }) }),
  'GET /api/v1/scenes/group-rental/precision': () => ({
    path: '/api/v1/scenes/group-rental/precision' }),
  'GET /api/v1/scenes/elderly-alone/alerts': () => ({
    path: '/api/v1/scenes/elderly-alone/alerts' }),
  'GET /api/v1/indicators': () => ({ path: '/api/v1/indicators' }),
  'POST /api/v1/indicators': () => ({ path: '/api/v1/indicators',
    body: JSON.stringify({ id: `i${seq++}`, feed: 'events',
      measure: 'count', bucket: '1h' }) }),
  'GET /api/v1/indicators/{}/series': () => ({
    path: '/api/v1/indicators/calls_110_type/series' }),
  'GET /api/v1/alert-rules': () => ({ path: '/api/v1/alert-rules' }),
  'POST /api/v1/alert-rules': () => ({ path: '/api/v1/alert-rules',
    body: JSON.stringify({ id: `r${seq++}`, indicator: 'calls_110_type',
      kind: 'threshold', value: 1000 }) }),
  'GET /api/v1/silences': () => ({ path: '/api/v1/silences' }),
  'POST /api/v1/silences': () => ({ path: '/api/v1/silences',
    body: JSON.stringify({ rule: 'none', reason: 'roles test',
      duration: '1m' }) }),
  'GET /api/v1/alerts': () => ({ path: '/api/v1/alerts' }),
  'GET /api/v1/alerts/{}': () => ({ path: `/api/v1/alerts/${alertId}` }),
  'POST /api/v1/alerts/{}/actions': () => ({
    path: `/api/v1/alerts/${alertId}/actions`,
    body: JSON.stringify({ action: 'comment', text: `roles ${seq++}` }) }),
  'GET /api/v1/notifications/dead-letters': () => ({
    path: '/api/v1/notifications/dead-letters' }),
  'GET /api/v1/stream': () => ({ path: '/api/v1/stream?drain=1' }),
  'POST /api/v1/session': (role) => ({ path: '/api/v1/session',
    body: JSON.stringify({ token: tok[role] }) }),
  'DELETE /api/v1/session': () => ({ path: '/api/v1/session' }),
  'POST /api/v1/login-links': () => ({ path: '/api/v1/login-links',
    body: JSON.stringify({ name: `link${seq++}`, role: 'analyst' }) }),
  'GET /': () => ({ path: '/' }),
  'GET /assets/{}': () => ({ path: '/assets/app.js' }),
  'PUT /api/v1/map/boundaries': () => ({ path: '/api/v1/map/boundaries',
    body: JSON.stringify({ type: 'FeatureCollection', features: [] }) }),
  'GET /api/v1/map/boundaries': () => ({ path: '/api/v1/map/boundaries' }),
  'GET /api/v1/map/clusters': () => ({
    path: '/api/v1/map/clusters?zoom=10&bbox=121,31,122,32' }),
  'GET /login': async () => {
    const r = await srv.req('POST', '/api/v1/login-links', { body:
      JSON.stringify({ name: `l${seq++}`, role: 'operator' }) });
    return { path: r.json.url };
  },
  'POST /api/v1/cases': () => ({ path: '/api/v1/cases', body: JSON.stringify(
      { category: 'garbage', lat: 31 + (seq++) * 0.01, lon: 121.5 }) }),
  'GET /api/v1/cases': () => ({ path: '/api/v1/cases' }),
  'GET /api/v1/cases/{}': async (role) => {
    const id = await caseAt(role === 'department' ? 'place' : await flatCase(),
        DISPATCHED);
    const other = await caseAt('OTHER-1', []);
    return { path: `/api/v1/cases/${id}`, other: `/api/v1/cases/${other}` };
  },
  'POST /api/v1/cases/{}/transitions': async (role) => {
    const [before, action] = CASE_STEP[role] || [[], 'check'];
    const id = await caseAt(role === 'department' ? 'place' : await flatCase(),
        before);
    const other = await caseAt('OTHER-1', []);
    return { path: `/api/v1/cases/${id}/transitions`,
      other: `/api/v1/cases/${other}/transitions`,
      body: JSON.stringify({ action }) };
  },
  'POST /api/v1/cases/{}/visits': async (role) => {
    const id = await caseAt(role === 'department' ? 'place' : await flatCase(),
        DISPATCHED);
    const other = await caseAt('OTHER-1', []);
    return { path: `/api/v1/cases/${id}/visits`,
      other: `/api/v1/cases/${other}/visits`,
      body: JSON.stringify({ visit_id: `v${seq++}`, outcome: 'no_access' }) };
  },
  'POST /api/v1/cases/{}/photos': async (role) => {
    const id = await caseAt(role === 'department' ? 'place' : await flatCase(),
        DISPATCHED);
    const other = await caseAt('OTHER-1', []);
    return { path: `/api/v1/cases/${id}/photos?visit_id=v${seq++}`,
      other: `/api/v1/cases/${other}/photos`, body: jpeg(),
      contentType: 'image/jpeg' };
  },
  'GET /api/v1/cases/{}/photos': async (role) => {
    const id = await caseAt(role === 'department' ? 'place' : await flatCase(),
        DISPATCHED);
    const other = await caseAt('OTHER-1', []);
    return { path: `/api/v1/cases/${id}/photos`,
      other: `/api/v1/cases/${other}/photos` };
  },
  'GET /api/v1/photos/{}': async (role) => {
    const photo = async (id) => {
      const r = await srv.req('POST', `/api/v1/cases/${id}/photos`,
          { body: jpeg(), contentType: 'image/jpeg' });
      assert.equal(r.status, 201, r.text);
      return `/api/v1/photos/${r.json.id}`;
    };
    const id = await caseAt(role === 'department' ? 'place' : await flatCase(),
        DISPATCHED);
    return { path: await photo(id),
      other: await photo(await caseAt('OTHER-1', [])) };
  },
  'GET /open311/v2/services.json': () => ({
    path: '/open311/v2/services.json' }),
  'GET /open311/v2/services/{}': () => ({
    path: '/open311/v2/services/garbage.json' }),
  'POST /open311/v2/requests.json': () => ({
    path: '/open311/v2/requests.json', body: 'service_code=garbage&' +
      `lat=31.${seq++}&long=121.5&description=roles`,
    contentType: 'application/x-www-form-urlencoded' }),
  'GET /open311/v2/requests/{}': async () => {
    const r = await request(srv.base, 'POST', '/open311/v2/requests.json', {
      body: `api_key=${tok.citizen_app}&service_code=noise&lat=31.1&long=121.4`,
      contentType: 'application/x-www-form-urlencoded' });
    assert.equal(r.status, 201, r.text);
    return { path: `/open311/v2/requests/${r.json[0].service_request_id}.json` };
  },
  'GET /open311/v2/requests.json': () => ({
    path: '/open311/v2/requests.json' }),
  'GET /api/v1/tasks': () => ({ path: '/api/v1/tasks' }),
  // a committee's own figures (another unit's: cases.test.mjs)
  'GET /api/v1/evaluation': () => ({ path: '/api/v1/evaluation' }),
};

test('the role table in docs/API.md is the route table of routes.c',
    () => {
  const doc = docTable(), code = codeTable();
  const key = (r) => `${r.method} ${r.pattern}`;
  assert.deepEqual(doc.map(key).sort(), code.map(key).sort(),
      'the doc and routes.c list different endpoints');
  const byKey = new Map(code.map((r) => [key(r), r]));
  for (const d of doc) {
    const c = byKey.get(key(d));
    if (c.pub) {
      for (const r of ROLES)
        assert.match(d.text[r], /no token/, `${key(d)} is public`);
      continue;
    }
    assert.deepEqual(d.cells, c.cells, `${key(d)}: doc and code differ`);
  }
  assert.deepEqual(Object.keys(samples).sort(), code.map(key).sort(),
      'this test has no sample request for some route');
});

for (const row of docTable()) {
  const name = `${row.method} ${row.pattern}`;
  test(`${name}: every role as the doc says`, async () => {
    const code = codeTable().find((r) => r.method === row.method &&
        r.pattern === row.pattern);
    for (const role of ROLES) {
      const s = await samples[name](role);
      const send = (who, path = s.path, body = s.body) => request(srv.base,
          row.method, path, { token: code.pub ? undefined : tok[who], body,
            contentType: s.contentType });
      const r = await send(role);
      const cell = row.cells[role];
      if (cell === 'no') {
        assert.equal(r.status, 403, `${role}: ${r.status} ${r.text}`);
        continue;
      }
      assert.ok(r.status >= 200 && r.status < 300,
          `${role} (${cell}): ${r.status} ${r.text}`);
      if (cell !== 'own') continue;
      if (role === 'publisher') {
        const o = await send('publisher_other');
        assert.equal(o.status, 403, `publisher outside its feeds: ${o.status}`);
      } else if (s.other || s.otherBody) {
        const o = await send('committee', s.other || s.path,
            s.otherBody || s.body);
        assert.equal(o.status, 403, `another committee's: ${o.status}`);
        const o2 = await send('committee_other');
        assert.equal(o2.status, 403, `the other committee: ${o2.status}`);
      }
    }
    if (!code.pub) {
      const s = await samples[name]();
      const r = await request(srv.base, row.method, s.path, { body: s.body });
      assert.equal(r.status, 401, 'no token');
    }
  });
}
