// Case deadlines from the SLA table in working time over the holiday
// calendar (a public holiday and a make-up working day), the server's own
// timer escalating an overdue case with no one listing cases, and every
// case change on the live stream: staff get it, the committee the case is
// dispatched to gets it, another committee does not, no event names a
// household, and a stream that resumes with Last-Event-ID gets what it
// missed.  On a simulated district clock.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startServer, makeToken, householdsCsv, request, sleep, tempDir }
  from './lib.mjs';

let srv;
const tok = {};
before(async () => {
  srv = await startServer({ args: ['--clock', 'simulated',
    '--case_routes', 'garbage=sanitation',
    '--case_sla', '*.collected=4h,garbage.registered=2wh,' +
        'garbage.dispatched=1wd',
    '--case_escalate_interval_ms', '100'] });
  const r = await srv.req('POST', '/api/v1/registry/households', {
    contentType: 'text/csv', body: householdsCsv([{ id: 'H0000001' },
      { id: 'OTHER-1', committee: '别的居委', room: 888 }]) });
  assert.equal(r.status, 200, r.text);
  tok.admin = srv.admin;
  tok.committee = await makeToken(srv, { name: '王阿姨', role: 'committee',
    committee: '梅园一居委' });
  tok.committee_other = await makeToken(srv, { name: '李阿姨',
    role: 'committee', committee: '别的居委' });
  tok.shift_lead = await makeToken(srv, { name: '值班长', role: 'shift_lead' });
  tok.analyst = await makeToken(srv, { name: 'an', role: 'analyst' });
});
after(async () => { await srv.stop(); srv.cleanup(); });

const as = (who, method, path, body) => request(srv.base, method, path,
    { token: tok[who], body: body && JSON.stringify(body) });
const setClock = async (now) => {
  const r = await as('admin', 'POST', '/api/v1/admin/clock', { now });
  assert.equal(r.status, 200, r.text);
};
let place = 0;
async function garbageCase() {
  place++;
  const r = await as('admin', 'POST', '/api/v1/cases', { category: 'garbage',
    source_kind: 'event', source_ref: `e-${place}`, lat: 31 + place * 0.01,
    lon: 121.5 });
  assert.equal(r.status, 201, r.text);
  return r.json;
}
async function step(id, action) {
  const r = await as('admin', 'POST', `/api/v1/cases/${id}/transitions`,
      { action });
  assert.equal(r.status, 200, r.text);
  return r.json;
}
function parseStream(text) {
  return text.split('\n\n').map((b) => {
    const ev = {};
    for (const l of b.split('\n')) {
      if (l.startsWith('id:')) ev.id = Number(l.slice(3));
      if (l.startsWith('event:')) ev.event = l.slice(6).trim();
      if (l.startsWith('data:')) ev.data = JSON.parse(l.slice(5));
    }
    return ev;
  }).filter((e) => e.event);
}
const stream = async (who, last = 0) => parseStream((await request(srv.base,
    'GET', '/api/v1/stream?drain=1', { token: tok[who],
      headers: { 'last-event-id': String(last) } })).text);

test('SLA deadlines skip a public holiday and count a make-up day',
    async () => {
  // Wednesday 2026-09-30 16:00, the eve of 国庆 (1st-7th October)
  await setClock('2026-09-30T16:00:00+08:00');
  const c = await garbageCase();
  assert.equal(c.deadline, '2026-09-30T20:00:00+08:00', '*.collected=4h');
  let r = await step(c.id, 'check');
  assert.equal(r.deadline, '2026-10-01T16:00:00+08:00',
      'no entry: case_step_deadline_min, calendar time');
  r = await step(c.id, 'register');
  assert.equal(r.deadline, '2026-10-08T10:00:00+08:00',
      '2 working hours: one on the 30th, one after the holiday');
  // dispatched on the 8th at 09:30: a week later, yet on time
  await setClock('2026-10-08T09:30:00+08:00');
  r = await step(c.id, 'dispatch');
  assert.equal(r.deadline, '2026-10-09T09:30:00+08:00', '1wd');
  // Friday 2026-10-09 16:00: Saturday the 10th is a make-up working day
  await setClock('2026-10-09T16:00:00+08:00');
  const d = await garbageCase();
  await step(d.id, 'check');
  r = await step(d.id, 'register');
  assert.equal(r.deadline, '2026-10-10T10:00:00+08:00',
      'the make-up Saturday counts');
  r = await step(d.id, 'dispatch');
  assert.equal(r.deadline, '2026-10-10T16:00:00+08:00',
      '1 working day = 8 working hours: 1 on Friday, 7 on the Saturday');
  // the evaluation counts on time by the same deadlines
  r = await as('admin', 'GET', '/api/v1/evaluation?from=2026-09-30&to=2026-10-10');
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.cases, 2);
  assert.equal(r.json.overall.dispatched, 2);
  assert.equal(r.json.overall.on_time_dispatch_rate, 1,
      'dispatched within the working-time deadline');
});

test('the timer escalates an overdue case with no one listing cases',
    async () => {
  await setClock('2026-11-27T16:00:00+08:00'); // a Friday
  const c = await garbageCase();
  await step(c.id, 'check');
  const r = await step(c.id, 'register');
  assert.equal(r.deadline, '2026-11-30T10:00:00+08:00', 'over the weekend');
  // Sunday evening: late by the calendar, not by working time
  await setClock('2026-11-29T20:00:00+08:00');
  await sleep(500);
  let got = await as('admin', 'GET', `/api/v1/cases/${c.id}`);
  assert.equal(got.json.overdue, false);
  assert.equal(got.json.escalated_to, null, 'not yet');
  await setClock('2026-11-30T10:01:00+08:00');
  for (let i = 0; i < 100; i++) {
    got = await as('admin', 'GET', `/api/v1/cases/${c.id}`);
    if (got.json.escalated_to) break;
    await sleep(100);
  }
  assert.equal(got.json.escalated_to, 'shift_lead');
  assert.equal(got.json.overdue, true);
  await sleep(400);
  got = await as('admin', 'GET', `/api/v1/cases/${c.id}`);
  const esc = got.json.history.filter((s) => s.action === 'escalate');
  assert.equal(esc.length, 1, 'once');
  assert.equal(esc[0].role, 'system');
});

test('case changes on the live stream, by role, and resumed', async () => {
  await setClock('2026-12-01T09:30:00+08:00');
  const before = await stream('shift_lead');
  const last = Math.max(0, ...before.map((e) => e.id));
  let r = await as('admin', 'POST', '/api/v1/cases', { category: 'group_rental',
    source_kind: 'group_rental', source_ref: 'H0000001' });
  assert.equal(r.status, 201, r.text);
  const id = r.json.id;
  await step(id, 'check');
  await step(id, 'register');
  await step(id, 'dispatch');
  r = await as('admin', 'POST', '/api/v1/cases', { category: 'group_rental',
    source_kind: 'group_rental', source_ref: 'OTHER-1' });
  const otherId = r.json.id;
  for (const a of ['check', 'register', 'dispatch']) await step(otherId, a);
  // resuming after `last` gets exactly what was missed, in order
  const missed = (await stream('shift_lead', last))
      .filter((e) => e.event === 'case' && e.data.id === id);
  assert.deepEqual(missed.map((e) => e.data.step.action),
      ['collect', 'check', 'register', 'dispatch']);
  assert.equal(missed.at(-1).data.state, 'dispatched');
  assert.equal(missed.at(-1).data.unit, '梅园一居委');
  assert.equal(missed.at(-1).data.step.who, 'admin');
  assert.ok(missed.every((e) => e.id > last));
  // and from the middle: only what came after
  const mid = missed[1].id;
  const rest = (await stream('shift_lead', mid))
      .filter((e) => e.event === 'case' && e.data.id === id);
  assert.deepEqual(rest.map((e) => e.data.step.action),
      ['register', 'dispatch']);
  // no event names a household: not to staff, not to the committee
  const all = await stream('analyst');
  const cases = all.filter((e) => e.event === 'case');
  assert.ok(cases.length >= 8, `${cases.length} case events`);
  for (const e of cases) {
    assert.ok(!('household_id' in e.data) && !('address' in e.data) &&
        !('source_ref' in e.data) && !('title' in e.data), 'no flat');
  }
  assert.doesNotMatch(JSON.stringify(cases), /H0000001|OTHER-1|张杨路/);
  // the committee gets its own case once dispatched to it, nothing else
  const mine = (await stream('committee')).filter((e) => e.event === 'case');
  assert.ok(mine.some((e) => e.data.id === id &&
      e.data.state === 'dispatched'), 'its own dispatched case');
  assert.ok(mine.every((e) => e.data.unit === '梅园一居委'),
      'only cases dispatched to it');
  assert.ok(!mine.some((e) => e.data.id === otherId), "not another's");
  const theirs = (await stream('committee_other'))
      .filter((e) => e.event === 'case');
  assert.ok(theirs.some((e) => e.data.id === otherId));
  assert.ok(!theirs.some((e) => e.data.id === id));
});

test('a bad SLA table, working hours or holiday file stops the start',
    async () => {
  const dir = tempDir();
  try {
    writeFileSync(join(dir, 'h.txt'), '2026-01-01 off\n2026-13-01 work\n');
    for (const [args, re] of [
      [['--case_sla', 'garbage.dispatched=4x'], /case_sla: 'garbage\.dispatched=4x'/],
      [['--case_sla', 'garbage.closed=4h'], /case_sla/],
      [['--work_hours', '9-17'], /hours/],
      [['--holidays_file', join(dir, 'h.txt')], /line 2, column 1/],
      [['--holidays_file', join(dir, 'none.txt')], /holidays_file: cannot read/],
    ]) {
      await assert.rejects(startServer({ dir, args }), re,
          `${args.join(' ')} should not start`);
    }
  } finally { rmSync(dir, { recursive: true, force: true }); }
});
