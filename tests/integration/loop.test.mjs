// The closed loop on a small simulated district, as `make demo` runs it:
// `citybrain auto-case` makes cases of the suspects and elderly alerts and
// dispatches them; `citybrain committee-sim` visits them through the API
// with a token per worker, on the district clock the test moves, and
// reports what the simulator's truth holds (less the no-access and wrong
// reports it draws); the evaluation and the scene's precision move.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startServer, tempDir, BIN, sleep, makeToken } from './lib.mjs';

let srv, sim, work;
const truth = new Map();  // id -> {type, stop (epoch s) or null}
const tokenFile = {};
let before0, precision0;

before(async () => {
  work = tempDir('citybrain-loop-');
  sim = join(work, 'district');
  execFileSync(BIN, ['simulate', '--households', '1500', '--days', '28',
    '--seed', '11', '--out', sim, '--quiet', '--threads', '1'],
  { stdio: 'inherit' });
  const lines = readFileSync(join(sim, 'truth', 'households.csv'), 'utf8')
      .trim().split('\n');
  const head = lines.shift().split(',');
  const col = (n) => head.indexOf(n);
  for (const l of lines) {
    const f = l.split(',');
    truth.set(f[col('household_id')], { type: f[col('type')],
      stop: f[col('event')] === 'stop' ?
        Date.parse(f[col('event_start')]) / 1000 : null,
      occupants: Number(f[col('true_occupants')]) });
  }
  srv = await startServer({ args: ['--sync', 'normal', '--clock',
    'simulated'] });
  execFileSync(BIN, ['load', '--dir', sim, '--url', srv.base,
    '--token-file', join(srv.dir, 'admin.token')], { stdio: 'ignore' });
  // the roll-up and re-score catch up: the same suspects three reads in a
  // row
  let last = '';
  for (let i = 0, same = 0; i < 200 && same < 3; i++) {
    const ids = (await suspectIds()).join();
    same = ids === last && ids.split(',').length >= 8 ? same + 1 : 0;
    last = ids;
    await sleep(300);
  }
  before0 = (await srv.req('GET', '/api/v1/evaluation')).json;
  precision0 = (await srv.req('GET',
      '/api/v1/scenes/group-rental/precision')).json;
});
after(async () => {
  await srv.stop();
  srv.cleanup();
  rmSync(work, { recursive: true, force: true });
});

const suspectIds = async () => ((await srv.req('GET',
    '/api/v1/scenes/group-rental/suspects?limit=20&min_score=0.8'))
    .json?.suspects || []).map((x) => x.household_id);
const alertIds = async () => ((await srv.req('GET',
    '/api/v1/scenes/elderly-alone/alerts')).json?.alerts || [])
    .map((x) => x.household_id);

const autoCase = (...extra) => execFileSync(BIN, ['auto-case', '--url',
  srv.base, '--token-file', tokenFile.operator, '--check-token-file',
  tokenFile.call_taker, '--dispatch-token-file', tokenFile.dispatcher,
  '--min-score', '0.8', '--top', '20', '--once', ...extra],
{ encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

let cases;
test('auto-case makes cases of the suspects and elderly alerts and ' +
    'dispatches them to their committees', async () => {
  assert.equal(before0.cases, 0);
  // the policy's tokens, made from the command line beside the running
  // server as make demo does, just before the policy starts (it waits for
  // the server to pick them up): an operator reads and collects, a
  // call-taker checks and registers, a dispatcher dispatches
  for (const role of ['operator', 'call_taker', 'dispatcher']) {
    tokenFile[role] = join(work, `${role}.token`);
    writeFileSync(tokenFile[role], execFileSync(BIN, ['token', 'create',
      '--name', `auto-case-${role}`, '--role', role, '--data', srv.dir],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }));
  }
  // what the policy may see: the lists just before and just after it ran
  // (the scenes may re-score in between)
  const suspects = new Set(await suspectIds());
  const alerts = new Set(await alertIds());
  autoCase();
  for (const id of await suspectIds()) suspects.add(id);
  for (const id of await alertIds()) alerts.add(id);
  cases = (await srv.req('GET', '/api/v1/cases?limit=1000')).json;
  const gr = cases.filter((c) => c.source_kind === 'group_rental');
  const el = cases.filter((c) => c.source_kind === 'elderly');
  assert.ok(gr.length >= 8 && gr.length <= 20,
      `${gr.length} group-rental cases`);
  assert.ok(el.length > 0, 'elderly cases');
  for (const c of gr) assert.ok(suspects.has(c.household_id), c.household_id);
  for (const c of el) assert.ok(alerts.has(c.household_id), c.household_id);
  for (const c of cases) {
    assert.equal(c.state, 'dispatched', JSON.stringify(c));
    assert.equal(c.unit_kind, 'committee');
    assert.equal(c.unit, c.committee);  // routed to its residents' committee
    const full = (await srv.req('GET', `/api/v1/cases/${c.id}`)).json;
    const by = Object.fromEntries(full.history.map((h) => [h.action, h]));
    assert.equal(by.collect.role, 'operator');
    assert.equal(by.check.role, 'call_taker');
    assert.equal(by.register.role, 'call_taker');
    assert.equal(by.dispatch.role, 'dispatcher');
    assert.match(by.dispatch.reason, /^auto-case: /);
    const score = /score ([0-9.]+) >= 0.8/.exec(by.collect.reason);
    if (c.source_kind === 'group_rental')
      assert.ok(score && Number(score[1]) >= 0.8, by.collect.reason);
  }
  // a second round makes nothing new: every household has its case
  autoCase();
  assert.equal((await srv.req('GET', '/api/v1/cases?limit=1000')).json.length,
      cases.length);
});

// The outcome the truth gives for a visit at district time `at`.
function truthOf(v) {
  const t = truth.get(v.household_id);
  if (v.kind === 'elderly')
    return t.stop !== null && t.stop <= v.at ? 'confirmed' : 'not_found';
  return t.type === 'group_rental' ? 'confirmed' : 'not_found';
}

let report, summary;
test('simulated committee workers visit on the district clock and report ' +
    'the truth, less no-access and wrong reports', async () => {
  assert.ok(cases?.length, 'cases were made');
  // a worker token an earlier run left valid
  await makeToken(srv, { name: 'sim-worker-1 旧居委', role: 'committee',
    committee: '旧居委' });
  const reportFile = join(work, 'visits.ndjson');
  const proc = spawn(BIN, ['committee-sim', '--truth', sim, '--url',
    srv.base, '--token-file', join(srv.dir, 'admin.token'), '--seed', '3',
    '--poll-ms', '20', '--report', reportFile],
  { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  proc.stdout.on('data', (d) => { out += d; });
  proc.stderr.on('data', (d) => { err += d; });
  const exited = new Promise((r) => proc.on('exit', (code) => r(code)));
  let now = (await srv.req('GET', '/api/v1/admin/clock')).json.now_s;
  // nothing happens while the district clock stands still
  await sleep(500);
  assert.equal(readFileSync(reportFile, 'utf8'), '', err);
  // two district hours a step, until every case is closed or has left the
  // committees (no access too often: escalated to housing)
  let open = cases.length;
  for (let step = 0; step < 600 && open > 0; step++) {
    now += 7200;
    await srv.req('POST', '/api/v1/admin/clock',
        { body: JSON.stringify({ now }) });
    await sleep(60);
    const all = (await srv.req('GET', '/api/v1/cases?limit=1000')).json;
    open = all.filter((c) => !['closed', 'evaluated'].includes(c.state) &&
        c.unit_kind === 'committee').length;
  }
  proc.kill('SIGINT');
  assert.equal(await exited, 0, err);
  assert.equal(open, 0, 'every case was visited and closed');
  summary = JSON.parse(out);
  report = readFileSync(reportFile, 'utf8').trim().split('\n')
      .map((l) => JSON.parse(l));
  assert.equal(report.length, summary.visits);
  assert.ok(summary.visits >= cases.length, JSON.stringify(summary));
  for (const v of report) {
    assert.equal(v.truth, truthOf(v), JSON.stringify(v));
    if (v.outcome === 'no_access') continue;
    if (v.wrong) assert.notEqual(v.outcome, v.truth, JSON.stringify(v));
    else assert.equal(v.outcome, v.truth, JSON.stringify(v));
  }
  const wrong = report.filter((v) => v.wrong).length;
  assert.equal(wrong, summary.wrong);
  assert.ok(wrong <= report.length * 0.3, `${wrong} wrong reports`);
  // some flats are group rentals, some are not: the truth decides
  assert.ok(report.some((v) => v.outcome === 'confirmed'));
});

test('each visit was reported by a worker with its own committee token',
    async () => {
  assert.ok(report, 'the simulator ran');
  const tokens = (await srv.req('GET', '/api/v1/tokens')).json;
  const byId = new Map(tokens.map((t) => [t.id, t]));
  const workers = new Set();
  for (const v of report) {
    const t = byId.get(v.worker_token_id);
    assert.equal(t.role, 'committee');
    assert.equal(t.committee, v.committee);
    assert.ok(t.revoked, 'revoked when the simulator stopped');
    workers.add(v.worker_token_id);
    const c = (await srv.req('GET', `/api/v1/cases/${v.case_id}`)).json;
    assert.equal(c.committee, v.committee);
    const steps = c.history.filter((h) => h.token_id === v.worker_token_id);
    assert.ok(steps.length > 0, JSON.stringify(c.history));
    for (const h of steps) {
      assert.equal(h.role, 'committee');
      assert.equal(h.who, t.name);
    }
  }
  assert.ok(workers.size > 1);
  assert.ok(tokens.find((t) => t.name === 'sim-worker-1 旧居委').revoked,
      'a token an earlier run left is revoked');
  // a no-access visit rescheduled its case
  for (const v of report.filter((x) => x.outcome === 'no_access')) {
    const c = (await srv.req('GET', `/api/v1/cases/${v.case_id}`)).json;
    assert.ok(c.history.some((h) => ['reschedule', 'escalate']
        .includes(h.action)), JSON.stringify(c.history));
  }
});

test('feedback reached the scene and the evaluation moved', async () => {
  assert.ok(report, 'the simulator ran');
  const ev = (await srv.req('GET', '/api/v1/evaluation')).json;
  assert.equal(ev.cases, cases.length);
  assert.ok(ev.overall.closure_rate > 0, JSON.stringify(ev.overall));
  assert.equal(before0.scenes?.group_rental?.visits ?? 0, 0);
  for (const kind of ['group_rental', 'elderly']) {
    const mine = report.filter((v) => v.kind === kind);
    const s = ev.scenes[kind] || { visits: 0 };
    assert.equal(s.visits, mine.length, kind);
    for (const o of ['confirmed', 'not_found', 'no_access'])
      assert.equal(s[o], mine.filter((v) => v.outcome === o).length,
          `${kind} ${o}`);
  }
  assert.ok(ev.scenes.group_rental.precision > 0.5,
      JSON.stringify(ev.scenes.group_rental));
  assert.ok(ev.roles.committee.steps > 0 && ev.roles.supervisor.steps > 0);
  // the scene learnt from the visits (each flat once, its latest visit)
  const p = (await srv.req('GET',
      '/api/v1/scenes/group-rental/precision')).json;
  assert.equal(precision0.visits, 0);
  const flats = new Set(report.filter((v) => v.kind === 'group_rental')
      .map((v) => v.household_id));
  assert.equal(p.visits, flats.size);
  assert.ok(p.precision !== null);
});

test('a case change publishes the evaluation on the live stream',
    async () => {
  assert.ok(report, 'the simulator ran');
  // the newest event id held, from the reset a far-back resume gets
  const reset = await srv.req('GET',
      '/api/v1/stream?last_event_id=1&drain=1');
  const newest = JSON.parse(/event: reset\ndata: (.*)/.exec(reset.text)[1])
      .newest;
  const closed = (await srv.req('GET',
      '/api/v1/cases?state=closed&limit=1')).json[0];
  const r = await srv.req('POST', `/api/v1/cases/${closed.id}/transitions`,
      { body: JSON.stringify({ action: 'evaluate' }) });
  assert.equal(r.status, 200, r.text);
  const live = await srv.req('GET',
      `/api/v1/stream?last_event_id=${newest}&drain=1`);
  const m = /event: evaluation\ndata: (.*)/.exec(live.text);
  assert.ok(m, live.text.slice(0, 2000));
  const data = JSON.parse(m[1]);
  const ev = (await srv.req('GET', '/api/v1/evaluation')).json;
  assert.deepEqual(data.overall, ev.overall);
  assert.deepEqual(data.scenes, ev.scenes);
  assert.equal(data.cases, ev.cases);
  assert.equal(data.group_rental_learning.visits,
      (await srv.req('GET', '/api/v1/scenes/group-rental/precision'))
          .json.visits);
  assert.equal(data.units, undefined);  // no per-unit figures on the wall
});

test('the tools refuse bad arguments', () => {
  const run = (args) => {
    try {
      execFileSync(BIN, args, { stdio: 'pipe' });
      return 0;
    } catch (e) { return e.status; }
  };
  assert.equal(run(['committee-sim', '--url', srv.base]), 2);
  assert.equal(run(['committee-sim', '--truth', sim, '--no-access', '2']), 2);
  assert.equal(run(['auto-case', '--min-score', '7']), 2);
  assert.equal(run(['auto-case', '--until', 'closed']), 2);
});
