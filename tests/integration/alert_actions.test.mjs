// The operators' workflow on alerts, on a simulated district clock:
// acknowledge, assign, comment and suppress (each recorded with who, token
// id and when, and published as an `alert` event), 400/404/403, the
// escalation of an alert nobody acknowledged within its rule's ack_within
// to the recipient the routes name (default: the shift lead), once, by the
// engine's tick with no one listing anything, and the workflow's state
// across a restart.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { startServer, seedHouseholds, makeToken, request, tempDir, sleep, until } from './lib.mjs';

const HOUR = 3600;

// Three 110 events on street S1 in the last closed hour of the wall clock
// (the simulated clock starts there).
function events() {
  const hour = Math.floor(Date.now() / 1000 / HOUR) * HOUR - HOUR;
  return [0, 1, 2].map((i) => JSON.stringify({ event_id: `w${i}`,
    source: '110', type: 'theft', ts: hour + 60 * (i + 1), lat: 31.2,
    lon: 121.5, street: 'S1' })).join('\n');
}

const rule = (id, extra = {}) => ({ id, indicator: 'calls_s',
  kind: 'threshold', op: '>', value: 2, keep_firing_for: '2d',
  ack_within: '10m', ...extra });

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

test('alert actions, escalation by the tick, and a restart', async () => {
  const dir = tempDir();
  const args = ['--clock', 'simulated', '--indicator_grace_s', '0',
    '--indicator_tick_ms', '100', '--alert_routes', 'critical=dispatcher'];
  let srv = await startServer({ dir, args });
  const tok = {};
  const act = (who, id, body) => request(srv.base, 'POST',
      `/api/v1/alerts/${id}/actions`, { token: tok[who],
        body: JSON.stringify(body) });
  const get = async (id) => (await srv.req('GET', `/api/v1/alerts/${id}`)).json;
  try {
    await seedHouseholds(srv, 2);
    tok.admin = srv.admin;
    for (const role of ['operator', 'shift_lead', 'dispatcher', 'analyst',
      'supervisor'])
      tok[role] = await makeToken(srv, { name: `${role}-王`, role });
    tok.committee = await makeToken(srv, { name: 'cm', role: 'committee',
      committee: '梅园一居委' });
    let r = await srv.req('POST', '/api/v1/departments',
        { body: JSON.stringify({ name: 'police', feeds: ['events'] }) });
    tok.publisher = await makeToken(srv, { name: 'pub', role: 'publisher',
      department: 'police' });
    tok.department = await makeToken(srv, { name: 'dep', role: 'department',
      department: 'police' });
    r = await srv.req('POST', '/api/v1/events', { body: events() });
    assert.equal(r.status, 200, r.text);
    r = await srv.req('POST', '/api/v1/indicators', { body: JSON.stringify({
      id: 'calls_s', feed: 'events', filter: { source: '110' },
      measure: 'count', bucket: '1h', group: 'street' }) });
    assert.equal(r.status, 201, r.text);
    // plain: nobody acts (escalates to the shift lead); routed: severity
    // critical (escalates to the dispatcher); acked; suppressed
    for (const x of [rule('plain'), rule('routed', { severity: 'critical' }),
      rule('acked'), rule('suppressed')]) {
      r = await srv.req('POST', '/api/v1/alert-rules',
          { body: JSON.stringify(x) });
      assert.equal(r.status, 201, r.text);
    }
    const firing = await until('four firing alerts', async () => {
      const a = await srv.req('GET', '/api/v1/alerts?state=firing');
      return a.json.length === 4 ? a.json : null;
    });
    const id = Object.fromEntries(firing.map((a) => [a.rule, a.id]));
    const a0 = await get(id.plain);
    assert.equal(a0.acknowledged_by, null);
    assert.equal(a0.acknowledged_at, null);
    assert.equal(a0.assignee, null);
    assert.deepEqual(a0.comments, []);
    assert.equal(a0.suppressed_until, null);
    assert.equal(a0.escalated_to, null);
    const t0 = (await srv.req('GET', '/api/v1/admin/clock')).json.now_s;

    // acknowledge: the first one stands
    r = await act('operator', id.acked, { action: 'acknowledge' });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.id, id.acked);
    assert.equal(r.json.acknowledged_by, 'operator-王');
    assert.ok(r.json.acknowledged_at);
    r = await act('dispatcher', id.acked, { action: 'acknowledge' });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.acknowledged_by, 'operator-王', 'the first stands');
    assert.equal(r.json.actions.filter((x) => x.action === 'acknowledge')
        .length, 1, 'a repeat records nothing');
    // assign, comment: on the plain one (which then is still not acked)
    r = await act('shift_lead', id.plain, { action: 'assign', to: '李四' });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.assignee, '李四');
    r = await act('dispatcher', id.plain, { action: 'comment',
      text: '已通知派出所' });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.comments.length, 1);
    assert.equal(r.json.comments[0].who, 'dispatcher-王');
    assert.equal(r.json.comments[0].text, '已通知派出所');
    assert.ok(r.json.comments[0].ts);
    const rec = r.json.actions.find((x) => x.action === 'assign');
    assert.equal(rec.who, 'shift_lead-王');
    assert.equal(rec.role, 'shift_lead');
    assert.ok(rec.token_id > 0 && rec.ts);
    // suppress for an hour of the district clock
    r = await act('admin', id.suppressed, { action: 'suppress',
      reason: '管道施工', until: t0 + HOUR });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.suppress_reason, '管道施工');
    assert.equal(Date.parse(r.json.suppressed_until), (t0 + HOUR) * 1000);
    await until('the suppressed alert reads silenced', async () =>
      (await get(id.suppressed)).silenced === true);

    // bad bodies name the field; unknown alert; roles that may not
    const bad = [[{ action: 'dance' }, /action/], [{}, /action/],
      [{ action: 'assign' }, /'to'/], [{ action: 'comment', text: '' }, /text/],
      [{ action: 'suppress', until: t0 + 60 }, /reason/],
      [{ action: 'suppress', reason: 'x', until: t0 - 60 }, /until/],
      [{ action: 'suppress', reason: 'x', until: 'soon' }, /until/],
      [{ action: 'suppress', reason: 'x' }, /until/]];
    for (const [body, re] of bad) {
      r = await act('operator', id.plain, body);
      assert.equal(r.status, 400, `${JSON.stringify(body)}: ${r.text}`);
      assert.match(r.json.message, re);
    }
    r = await request(srv.base, 'POST', `/api/v1/alerts/${id.plain}/actions`,
        { token: tok.operator, body: '{"action":' });
    assert.equal(r.status, 400);
    r = await act('operator', 987654, { action: 'acknowledge' });
    assert.equal(r.status, 404, r.text);
    for (const who of ['committee', 'publisher', 'department', 'analyst',
      'supervisor']) {
      for (const body of [{ action: 'acknowledge' },
        { action: 'suppress', reason: 'x', until: t0 + HOUR }]) {
        r = await act(who, id.plain, body);
        assert.equal(r.status, 403, `${who}: ${r.status} ${r.text}`);
      }
    }
    assert.equal((await get(id.plain)).acknowledged_by, null,
        'the refused acknowledgements changed nothing');

    // every action was published as an `alert` event, to the desk roles
    r = await request(srv.base, 'GET', '/api/v1/stream?last_event_id=0&drain=1',
        { token: tok.shift_lead });
    assert.equal(r.status, 200, r.text);
    let evs = parseStream(r.text).filter((e) => e.event === 'alert');
    assert.ok(evs.some((e) => e.data.id === id.acked &&
        e.data.acknowledged_by === 'operator-王'), 'acknowledge published');
    assert.ok(evs.some((e) => e.data.id === id.plain &&
        e.data.comments.length === 1), 'comment published');
    const lastSeen = Math.max(...parseStream(r.text).map((e) => e.id || 0));

    // no escalation before ack_within
    await srv.req('POST', '/api/v1/admin/clock', { body: JSON.stringify(
        { now: t0 + 5 * 60 }) });
    await sleep(400);
    assert.equal((await get(id.plain)).escalated_to, null, 'not yet');
    // past it: the tick escalates, with no one listing anything
    r = await srv.req('POST', '/api/v1/admin/clock', { body: JSON.stringify(
        { now: t0 + 11 * 60 }) });
    assert.equal(r.status, 200, r.text);
    const esc = await until('the escalation', async () => {
      const a = await get(id.plain);
      return a.escalated_to ? a : null;
    });
    assert.equal(esc.escalated_to, 'shift_lead');
    const step = esc.actions.find((x) => x.action === 'escalate');
    assert.equal(step.who, 'citybrain');
    assert.equal(step.role, 'system');
    await until('the routed escalation', async () =>
      (await get(id.routed)).escalated_to === 'dispatcher');
    await sleep(400); // a few more ticks
    assert.equal((await get(id.acked)).escalated_to, null, 'acknowledged');
    assert.equal((await get(id.suppressed)).escalated_to, null, 'suppressed');
    // published once, to a stream resuming where it stopped
    r = await request(srv.base, 'GET', '/api/v1/stream?drain=1',
        { token: tok.shift_lead, headers: { 'last-event-id': String(lastSeen) } });
    evs = parseStream(r.text).filter((e) => e.event === 'alert' &&
        e.data.id === id.plain && e.data.escalated_to === 'shift_lead');
    assert.equal(evs.length, 1, 'the escalation published once');

    // a restart keeps the workflow; nothing escalates twice
    await srv.stop();
    srv = await startServer({ dir, args });
    const b = await get(id.plain);
    assert.equal(b.assignee, '李四');
    assert.equal(b.comments[0].text, '已通知派出所');
    assert.equal(b.escalated_to, 'shift_lead');
    assert.equal((await get(id.acked)).acknowledged_by, 'operator-王');
    assert.equal((await get(id.suppressed)).suppress_reason, '管道施工');
    await srv.req('POST', '/api/v1/admin/clock', { body: JSON.stringify(
        { now: t0 + 30 * 60 }) });
    await sleep(600);
    assert.equal((await get(id.plain)).actions.filter((x) =>
      x.action === 'escalate').length, 1, 'escalated once across a restart');
    assert.equal((await get(id.acked)).escalated_to, null,
        'the acknowledgement survived the restart');
    // the suppression ends: now it escalates
    await srv.req('POST', '/api/v1/admin/clock', { body: JSON.stringify(
        { now: t0 + HOUR + 60 }) });
    await until('escalation after the suppression', async () =>
      (await get(id.suppressed)).escalated_to === 'shift_lead');
    // an alert keeps at most 200 actions; its live event lists the newest
    const n0 = (await get(id.acked)).actions.length;
    for (let i = n0; i < 200; i++) {
      r = await act('operator', id.acked, { action: 'comment', text: `c${i}` });
      assert.equal(r.status, 200, r.text);
    }
    r = await act('operator', id.acked, { action: 'comment', text: 'one more' });
    assert.equal(r.status, 413, r.text);
    const full = await get(id.acked);
    assert.equal(full.actions.length, 200);
    assert.equal(full.comments.at(-1).text, 'c199');
    r = await request(srv.base, 'GET', '/api/v1/stream?last_event_id=0&drain=1',
        { token: tok.operator });
    const ev = parseStream(r.text).filter((e) => e.event === 'alert' &&
        e.data.id === id.acked).at(-1);
    assert.equal(ev.data.comments.length, 20);
    assert.equal(ev.data.comments.at(-1).text, 'c199');
    assert.equal(ev.data.actions.length, 50);
  } finally {
    await srv.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
