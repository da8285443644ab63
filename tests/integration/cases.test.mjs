// The case loop: every transition of the lifecycle tried as every role,
// the 409 that lists what is allowed, routing, duplicates and isolation.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, makeToken, householdsCsv } from './lib.mjs';

const ROLES = ['admin', 'publisher', 'operator', 'analyst', 'committee',
  'supervisor', 'call_taker', 'shift_lead', 'dispatcher', 'department',
  'citizen_app'];
// The lifecycle as docs/CASES.md states it: [from, action, to, roles].
// committee and department act only on cases dispatched to them.
const LEADS = ['shift_lead', 'admin'];
const TABLE = [
  ['collected', 'check', 'second_check', ['call_taker', ...LEADS]],
  ['second_check', 'register', 'registered', ['call_taker', ...LEADS]],
  ['collected', 'void', 'void', ['call_taker', ...LEADS]],
  ['second_check', 'void', 'void', ['call_taker', ...LEADS]],
  ['registered', 'void', 'void', ['call_taker', ...LEADS]],
  ['registered', 'dispatch', 'dispatched', ['dispatcher', ...LEADS]],
  ['dispatched', 'handle', 'handled', ['committee', 'department', ...LEADS]],
  ['handled', 'feed_back', 'fed_back',
    ['committee', 'department', ...LEADS]],
  ['fed_back', 'verify', 'closed', ['supervisor', ...LEADS]],
  ['fed_back', 'rework', 'dispatched', ['supervisor', ...LEADS]],
  ['closed', 'evaluate', 'evaluated', LEADS],
  ['closed', 'reopen', 'registered', ['supervisor', ...LEADS]],
  ['evaluated', 'reopen', 'registered', ['supervisor', ...LEADS]],
];
// How admin brings a new case to each state.
const PATH = {
  collected: [], second_check: ['check'], registered: ['check', 'register'],
  dispatched: ['check', 'register', 'dispatch'],
  handled: ['check', 'register', 'dispatch', 'handle'],
  fed_back: ['check', 'register', 'dispatch', 'handle', 'feed_back'],
  closed: ['check', 'register', 'dispatch', 'handle', 'feed_back', 'verify'],
  evaluated: ['check', 'register', 'dispatch', 'handle', 'feed_back',
    'verify', 'evaluate'],
};

let srv;
const tok = {};
let place = 0;
before(async () => {
  srv = await startServer({ args: ['--clock', 'simulated',
    '--case_routes', 'garbage=sanitation,noise=urban-management'] });
  const rows = [];
  for (let i = 1; i <= 300; i++)
    rows.push({ id: `H${String(i).padStart(7, '0')}`, room: 100 + i });
  rows.push({ id: 'OTHER-1', committee: '别的居委', room: 888 });
  let r = await srv.req('POST', '/api/v1/registry/households',
      { contentType: 'text/csv', body: householdsCsv(rows) });
  assert.equal(r.status, 200, r.text);
  for (const name of ['sanitation', 'urban-management']) {
    r = await srv.req('POST', '/api/v1/departments',
        { body: JSON.stringify({ name, feeds: [] }) });
    assert.equal(r.status, 201, r.text);
  }
  tok.admin = srv.admin;
  tok.publisher = await makeToken(srv, { name: 'pub', role: 'publisher',
    department: 'sanitation' });
  tok.operator = await makeToken(srv, { name: 'op', role: 'operator' });
  tok.analyst = await makeToken(srv, { name: 'an', role: 'analyst' });
  tok.committee = await makeToken(srv, { name: '王阿姨', role: 'committee',
    committee: '梅园一居委' });
  tok.committee_other = await makeToken(srv, { name: '李阿姨',
    role: 'committee', committee: '别的居委' });
  for (const role of ['supervisor', 'call_taker', 'shift_lead', 'dispatcher'])
    tok[role] = await makeToken(srv, { name: `${role}-张`, role });
  tok.department = await makeToken(srv, { name: '环卫-赵', role: 'department',
    department: 'sanitation' });
  tok.department_other = await makeToken(srv, { name: '城管-钱',
    role: 'department', department: 'urban-management' });
  tok.citizen_app = await makeToken(srv, { name: '12345-app',
    role: 'citizen_app' });
});
after(async () => { await srv.stop(); srv.cleanup(); });

const as = (who, method, path, body) => srv.req(method, path,
    { token: tok[who], body: body && JSON.stringify(body) });

let hh = 0;
// A new case: a household case (routed to 梅园一居委) or a garbage case at
// a fresh place far from the others (routed to sanitation).
async function newCase(kind) {
  const body = kind === 'household'
    ? { category: 'group_rental', source_kind: 'group_rental',
      source_ref: `H${String(++hh).padStart(7, '0')}` }
    : { category: 'garbage', source_kind: 'event', source_ref: `e${place}`,
      lat: 31.0 + (place++) * 0.01, lon: 121.5 };
  const r = await as('admin', 'POST', '/api/v1/cases', body);
  assert.equal(r.status, 201, r.text);
  return r.json;
}

async function drive(id, actions) {
  for (const action of actions) {
    const r = await as('admin', 'POST', `/api/v1/cases/${id}/transitions`,
        { action, reason: 'setup' });
    assert.equal(r.status, 200, `${action}: ${r.text}`);
  }
}

for (const [from, action, to, roles] of TABLE) {
  test(`${from} --${action}--> ${to}, as every role`, async () => {
    for (const role of ROLES) {
      // committee acts on household cases, department on its category's
      const c = await newCase(role === 'department' ? 'place' : 'household');
      await drive(c.id, PATH[from]);
      const r = await as(role, 'POST', `/api/v1/cases/${c.id}/transitions`,
          { action, reason: `by ${role}` });
      if (!roles.includes(role)) {
        assert.ok([403, 409].includes(r.status),
            `${role} may not ${action}: got ${r.status} ${r.text}`);
        const now = await as('admin', 'GET', `/api/v1/cases/${c.id}`);
        assert.equal(now.json.state, from, 'a refused transition changes nothing');
        continue;
      }
      assert.equal(r.status, 200, `${role} ${action}: ${r.text}`);
      assert.equal(r.json.state, to);
      const last = r.json.history.at(-1);
      assert.equal(last.action, action);
      assert.equal(last.from, from);
      assert.equal(last.to, to);
      assert.equal(last.role, role);
      assert.equal(last.reason, `by ${role}`);
      assert.ok(last.who && last.token_id > 0 && last.ts, 'who and when');
    }
  });
}

test('an action the state does not allow is 409 and lists the allowed',
    async () => {
  const c = await newCase('household');
  for (const action of ['dispatch', 'verify', 'reopen', 'evaluate']) {
    const r = await as('shift_lead', 'POST',
        `/api/v1/cases/${c.id}/transitions`, { action });
    assert.equal(r.status, 409, r.text);
    assert.equal(r.json.state, 'collected');
    assert.match(r.json.message, new RegExp(`'${action}'.*'collected'`));
    assert.deepEqual(r.json.allowed.map((a) => a.action).sort(),
        ['check', 'void']);
    assert.ok(r.json.allowed[0].roles.includes('shift_lead'));
  }
  const r = await as('admin', 'POST', `/api/v1/cases/${c.id}/transitions`,
      { action: 'teleport' });
  assert.equal(r.status, 400, r.text);
  assert.match(r.json.message, /teleport/);
});

test('the whole history is recorded: who, token, when, why', async () => {
  const c = await newCase('household');
  await drive(c.id, PATH.closed);
  const r = await as('admin', 'GET', `/api/v1/cases/${c.id}`);
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json.history.map((s) => s.action),
      ['collect', ...PATH.closed]);
  assert.deepEqual(r.json.history.map((s) => s.to),
      ['collected', 'second_check', 'registered', 'dispatched', 'handled',
        'fed_back', 'closed']);
  assert.equal(r.json.deadline, null, 'a closed case has no deadline');
});

test('dispatch routes by place and category', async () => {
  const h = await newCase('household');
  await drive(h.id, PATH.dispatched);
  let r = await as('admin', 'GET', `/api/v1/cases/${h.id}`);
  assert.equal(r.json.unit_kind, 'committee');
  assert.equal(r.json.unit, '梅园一居委');
  const p = await newCase('place');
  await drive(p.id, PATH.dispatched);
  r = await as('admin', 'GET', `/api/v1/cases/${p.id}`);
  assert.equal(r.json.unit_kind, 'department');
  assert.equal(r.json.unit, 'sanitation');
  // a category with no route cannot be dispatched
  r = await as('admin', 'POST', '/api/v1/cases', { category: 'potholes',
    lat: 30.0, lon: 121.0 });
  assert.equal(r.status, 201, r.text);
  await drive(r.json.id, ['check', 'register']);
  r = await as('dispatcher', 'POST', `/api/v1/cases/${r.json.id}/transitions`,
      { action: 'dispatch' });
  assert.equal(r.status, 400, r.text);
  assert.match(r.json.message, /case_routes/);
});

test('duplicates: same household, and within 50 m of the same category',
    async () => {
  let r = await as('call_taker', 'POST', '/api/v1/cases', {
    category: 'elderly', source_kind: 'elderly', source_ref: "H0000300" });
  assert.equal(r.status, 201, r.text);
  const first = r.json.id;
  r = await as('supervisor', 'POST', '/api/v1/cases', {
    category: 'group_rental', source_kind: 'group_rental',
    household_id: "H0000300" });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.duplicate, true);
  assert.equal(r.json.id, first, 'the open case about the household');
  // place-based: 30 m away, same category -> linked; other category -> not
  r = await as('admin', 'POST', '/api/v1/cases', { category: 'noise',
    source_kind: 'event', source_ref: 'n1', lat: 30.5, lon: 120.5 });
  const noise = r.json.id;
  assert.equal(r.json.duplicate_of, null);
  r = await as('admin', 'POST', '/api/v1/cases', { category: 'noise',
    source_kind: 'alert', source_ref: 'alert-7', lat: 30.50027,
    lon: 120.5 });
  assert.equal(r.status, 201, r.text);
  assert.equal(r.json.duplicate_of, noise, '30 m away');
  assert.equal(r.json.source_ref, 'alert-7');
  r = await as('admin', 'POST', '/api/v1/cases', { category: 'noise',
    lat: 30.501, lon: 120.5 });
  assert.equal(r.json.duplicate_of, null, '111 m away');
  r = await as('admin', 'POST', '/api/v1/cases', { category: 'garbage',
    lat: 30.50027, lon: 120.5 });
  assert.equal(r.json.duplicate_of, null, 'another category');
  // once the first is closed, the household may get a new case
  await drive(first, ['void']);
  r = await as('admin', 'POST', '/api/v1/cases', { category: 'elderly',
    source_kind: 'elderly', source_ref: "H0000300" });
  assert.equal(r.status, 201, r.text);
});

test('a committee and a department see only their own cases', async () => {
  const mine = await newCase('household');
  await drive(mine.id, PATH.dispatched);
  let r = await as('admin', 'POST', '/api/v1/cases', { category: 'x',
    source_kind: 'group_rental', source_ref: 'OTHER-1' });
  const theirs = r.json.id;
  await drive(theirs, PATH.dispatched);
  r = await as('committee', 'GET', '/api/v1/cases');
  assert.equal(r.status, 200, r.text);
  assert.ok(r.json.length > 0);
  assert.ok(r.json.every((c) => c.unit === '梅园一居委'), 'own only');
  assert.ok(!r.json.some((c) => c.id === theirs));
  r = await as('committee', 'GET', `/api/v1/cases/${theirs}`);
  assert.equal(r.status, 403, r.text);
  r = await as('committee', 'GET', '/api/v1/cases/999999');
  assert.equal(r.status, 403, 'no existence oracle');
  r = await as('committee_other', 'POST',
      `/api/v1/cases/${mine.id}/transitions`, { action: 'handle' });
  assert.equal(r.status, 403, r.text);
  r = await as('committee_other', 'GET', '/api/v1/cases');
  assert.ok(r.json.every((c) => c.unit === '别的居委'));
  const p = await newCase('place');
  await drive(p.id, PATH.dispatched);
  r = await as('department', 'GET', '/api/v1/cases');
  assert.ok(r.json.some((c) => c.id === p.id));
  assert.ok(r.json.every((c) => c.unit === 'sanitation'));
  r = await as('department_other', 'GET', `/api/v1/cases/${p.id}`);
  assert.equal(r.status, 403, r.text);
  r = await as('department_other', 'POST',
      `/api/v1/cases/${p.id}/transitions`, { action: 'handle' });
  assert.equal(r.status, 403, r.text);
  // every read is audited with the household ids it carries
  r = await as('admin', 'GET', '/api/v1/audit?limit=200');
  assert.ok(r.json.some((a) => a.action === 'case.list' &&
      a.who === '王阿姨' && /H0000/.test(a.object)), 'list audited');
});

test('overdue cases by the district clock', async () => {
  const c = await newCase('household');
  let r = await as('admin', 'GET', '/api/v1/cases?overdue=true');
  assert.ok(!r.json.some((x) => x.id === c.id));
  const now = await as('admin', 'GET', '/api/v1/admin/clock');
  const t = now.json.now_s;
  r = await as('admin', 'POST', '/api/v1/admin/clock',
      { now: Math.floor(t + 2 * 86400) });
  assert.equal(r.status, 200, r.text);
  r = await as('admin', 'GET', '/api/v1/cases?overdue=true');
  const late = r.json.find((x) => x.id === c.id);
  assert.ok(late && late.overdue, 'shown as overdue after the deadline');
});

test('bad case bodies say which field', async () => {
  let r = await as('admin', 'POST', '/api/v1/cases', { category: 'x' });
  assert.equal(r.status, 400);
  assert.match(r.json.message, /household_id|lat/);
  r = await as('admin', 'POST', '/api/v1/cases', { category: 'x',
    household_id: 'NOPE' });
  assert.equal(r.status, 404);
  r = await as('admin', 'POST', '/api/v1/cases', { category: 'x',
    source_kind: 'rumour', lat: 1, lon: 1 });
  assert.equal(r.status, 400);
  assert.match(r.json.message, /source_kind/);
});

test('a visit closes the task once; a repeat is idempotent', async () => {
  const c = await newCase('household');
  await drive(c.id, PATH.dispatched);
  let r = await as('admin', 'GET', '/api/v1/scenes/group-rental/precision');
  const visitsBefore = r.json.visits;
  const visit = { visit_id: `V-${c.id}`, outcome: 'confirmed', headcount: 9,
    notes: '门口鞋很多' };
  r = await as('committee', 'POST', `/api/v1/cases/${c.id}/visits`, visit);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.repeat, false);
  assert.equal(r.json.case.state, 'fed_back');
  assert.deepEqual(r.json.case.history.slice(-2).map((s) => s.action),
      ['handle', 'feed_back']);
  assert.equal(r.json.case.history.at(-1).who, '王阿姨');
  r = await as('committee', 'POST', `/api/v1/cases/${c.id}/visits`, visit);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.repeat, true);
  assert.equal(r.json.case.history.length, 6, 'nothing recorded twice');
  // the scene learnt from it once
  r = await as('admin', 'GET', '/api/v1/scenes/group-rental/precision');
  assert.equal(r.json.visits, visitsBefore + 1);
  // a new visit of a task already closed: 409 with what is allowed
  r = await as('committee', 'POST', `/api/v1/cases/${c.id}/visits`,
      { ...visit, visit_id: 'V-again' });
  assert.equal(r.status, 409, r.text);
  assert.equal(r.json.state, 'fed_back');
  // a rework sends it back: the revisit is a new visit
  await drive(c.id, ['rework']);
  r = await as('committee', 'POST', `/api/v1/cases/${c.id}/visits`,
      { ...visit, visit_id: 'V-again', outcome: 'not_found' });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.repeat, false);
  assert.equal(r.json.case.state, 'fed_back');
  // bad reports say which field
  r = await as('committee', 'POST', `/api/v1/cases/${c.id}/visits`,
      { visit_id: 'V-x', outcome: 'maybe' });
  assert.equal(r.status, 400);
  assert.match(r.json.message, /outcome/);
  r = await as('committee_other', 'POST', `/api/v1/cases/${c.id}/visits`,
      { visit_id: 'V-y', outcome: 'confirmed' });
  assert.equal(r.status, 403, r.text);
});

test('no access is rescheduled, and escalated after the set attempts',
    async () => {
  const c = await newCase('household');
  await drive(c.id, PATH.dispatched);
  let r;
  for (let i = 1; i <= 3; i++) {
    r = await as('committee', 'POST', `/api/v1/cases/${c.id}/visits`,
        { visit_id: `NA-${c.id}-${i}`, outcome: 'no_access' });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.case.state, 'dispatched');
    assert.equal(r.json.case.attempts, i);
    if (i < 3) {
      assert.equal(r.json.case.history.at(-1).action, 'reschedule');
      assert.equal(r.json.case.unit, '梅园一居委');
    }
  }
  // the third (case_no_access_max = 3) goes to the housing department
  assert.equal(r.json.case.history.at(-1).action, 'escalate');
  assert.equal(r.json.case.unit_kind, 'department');
  assert.equal(r.json.case.unit, 'housing');
  r = await as('committee', 'GET', '/api/v1/tasks');
  assert.ok(!r.json.some((t) => t.case_id === c.id), 'no longer its task');
});

test("the committee's task list: where, why in Chinese, deadline, history",
    async () => {
  const c = await newCase('household');
  await drive(c.id, PATH.dispatched);
  let r = await as('admin', 'POST', '/api/v1/cases', { category: 'x',
    source_kind: 'group_rental', source_ref: 'OTHER-1' });
  const theirs = r.json.id;
  if (r.json.state !== 'dispatched') await drive(theirs, PATH.dispatched);
  r = await as('committee', 'GET', '/api/v1/tasks');
  assert.equal(r.status, 200, r.text);
  const task = r.json.find((t) => t.case_id === c.id);
  assert.ok(task, r.text);
  assert.match(task.address, /张杨路123弄4号/);
  assert.equal(task.building, '张杨路123弄4号');
  assert.equal(typeof task.lat, 'number');
  assert.match(task.summary, /群租/);
  assert.ok(task.deadline && task.history.length === 4);
  assert.ok(!r.json.some((t) => t.case_id === theirs), 'own tasks only');
  assert.ok(r.json.every((t) => !('readings' in t) && !('recipient' in t) &&
      !/recipient|index=/.test(JSON.stringify(t))), 'no raw data');
  r = await as('committee_other', 'GET', '/api/v1/tasks');
  assert.ok(r.json.some((t) => t.case_id === theirs));
  assert.ok(!r.json.some((t) => t.case_id === c.id));
});

test('an overdue case is escalated once to the shift lead', async () => {
  const c = await newCase('household');
  await drive(c.id, ['check']);
  const now = (await as('admin', 'GET', '/api/v1/admin/clock')).json.now_s;
  let r = await as('admin', 'POST', '/api/v1/admin/clock',
      { now: now + 3 * 86400 });
  assert.equal(r.status, 200, r.text);
  r = await as('shift_lead', 'GET', '/api/v1/cases?overdue=true');
  const late = r.json.find((x) => x.id === c.id);
  assert.equal(late.escalated_to, 'shift_lead');
  await as('shift_lead', 'GET', '/api/v1/cases');
  r = await as('admin', 'GET', `/api/v1/cases/${c.id}`);
  const esc = r.json.history.filter((s) => s.action === 'escalate');
  assert.equal(esc.length, 1, 'once per step');
  assert.equal(esc[0].role, 'system');
  assert.equal(r.json.state, 'second_check', 'escalation keeps the state');
  // the next step starts a fresh deadline and clears the escalation
  r = await as('call_taker', 'POST', `/api/v1/cases/${c.id}/transitions`,
      { action: 'register' });
  assert.equal(r.json.escalated_to, null);
  assert.equal(r.json.overdue, false);
});

test('evaluation: the rates per unit and role, and scene precision',
    async () => {
  const t0 = (await as('admin', 'GET', '/api/v1/admin/clock')).json.now_s;
  // a fresh window: move the clock a day on
  await as('admin', 'POST', '/api/v1/admin/clock', { now: t0 + 86400 });
  const from = t0 + 86400;
  // 1: registered, dispatched, visited (confirmed), verified
  const a = await newCase('household');
  await drive(a.id, PATH.dispatched);
  let r = await as('committee', 'POST', `/api/v1/cases/${a.id}/visits`,
      { visit_id: `E-${a.id}`, outcome: 'confirmed', headcount: 8 });
  assert.equal(r.status, 200, r.text);
  await drive(a.id, ['verify']);
  // 2: dispatched, visited (not found), reworked
  const b = await newCase('household');
  await drive(b.id, PATH.dispatched);
  r = await as('committee', 'POST', `/api/v1/cases/${b.id}/visits`,
      { visit_id: `E-${b.id}`, outcome: 'not_found', headcount: 2 });
  await drive(b.id, ['rework']);
  // 3: a public report, registered then voided; registered two days late
  const c = await newCase('place');
  await drive(c.id, ['check']);
  await as('admin', 'POST', '/api/v1/admin/clock', { now: t0 + 4 * 86400 });
  r = await as('call_taker', 'POST', `/api/v1/cases/${c.id}/transitions`,
      { action: 'register' });
  assert.equal(r.status, 200, r.text);
  await drive(c.id, ['void']);
  r = await as('analyst', 'GET',
      `/api/v1/evaluation?from=${from}&to=${t0 + 5 * 86400}`);
  assert.equal(r.status, 200, r.text);
  const o = r.json.overall;
  assert.equal(r.json.cases, 3);
  assert.equal(o.registered, 3);
  assert.equal(o.on_time_registration_rate, 2 / 3);
  assert.equal(o.accurate_registration_rate, 2 / 3);
  assert.equal(o.dispatched, 2);
  assert.equal(o.accurate_dispatch_rate, 1 / 2);
  assert.equal(o.rework_rate, 1 / 2);
  assert.equal(o.closure_rate, 1 / 3);
  assert.equal(o.on_time_handling_rate, 1);
  assert.equal(o.missed_report_rate, 1 / 3);
  assert.equal(r.json.units['梅园一居委'].dispatched, 2);
  assert.equal(r.json.roles.call_taker.steps, 1);
  assert.equal(r.json.roles.call_taker.on_time, 0);
  const g = r.json.scenes.group_rental;
  assert.equal(g.visits, 2);
  assert.equal(g.precision, 1 / 2);
  // a committee: its own figures only
  r = await as('committee', 'GET', `/api/v1/evaluation?from=${from}`);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.unit, '梅园一居委');
  assert.equal(r.json.cases, 2);
  r = await as('committee', 'GET', '/api/v1/evaluation?unit=housing');
  assert.equal(r.status, 403);
  r = await as('admin', 'GET', '/api/v1/evaluation?from=tomorrow');
  assert.equal(r.status, 400);
  assert.match(r.json.message, /from/);
});
