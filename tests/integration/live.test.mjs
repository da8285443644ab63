// The live hub over HTTP: GET /api/v1/stream (SSE), resuming with
// Last-Event-ID, role filtering at the server, the stream limit, slow
// clients; and browser sessions: the cookie, CSRF, logout, revocation and
// one-time login links.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { execFileSync } from 'node:child_process';
import { startServer, request, makeToken, seedHouseholds, householdsCsv,
  sleep, BIN } from './lib.mjs';

// An SSE client over fetch: collects parsed events until stopped.
export function openStream(base, { token, cookie, lastEventId, query = '' }
    = {}) {
  const ctl = new AbortController();
  const headers = {};
  if (token) headers.authorization = `Bearer ${token}`;
  if (cookie) headers.cookie = cookie;
  if (lastEventId !== undefined) headers['last-event-id'] = String(lastEventId);
  const s = { events: [], comments: [], status: 0, ended: false, text: '',
    close() { ctl.abort(); } };
  s.ready = fetch(`${base}/api/v1/stream${query}`, { headers,
    signal: ctl.signal }).then(async (res) => {
    s.status = res.status;
    s.headers = res.headers;
    if (res.status !== 200) { s.text = await res.text(); s.ended = true; return; }
    s.done = (async () => {
      const dec = new TextDecoder();
      let buf = '';
      try {
        for await (const chunk of res.body) {
          buf += dec.decode(chunk, { stream: true });
          let i;
          while ((i = buf.indexOf('\n\n')) >= 0) {
            const block = buf.slice(0, i);
            buf = buf.slice(i + 2);
            const ev = {};
            for (const line of block.split('\n')) {
              if (line.startsWith(':')) { s.comments.push(line); continue; }
              const k = line.indexOf(':');
              const key = line.slice(0, k), v = line.slice(k + 1).trimStart();
              if (key === 'data') ev.data = JSON.parse(v);
              else if (key === 'event') ev.event = v;
              else if (key === 'id') ev.id = Number(v);
            }
            if (ev.event) s.events.push(ev);
          }
        }
      } catch { /* aborted */ }
      s.ended = true;
    })();
  });
  s.until = async (pred, what, ms = 10000) => {
    const t0 = Date.now();
    for (;;) {
      const hit = s.events.find(pred);
      if (hit) return hit;
      if (Date.now() - t0 > ms || s.ended)
        assert.fail(`no ${what} event; got ${JSON.stringify(s.events)}`);
      await sleep(20);
    }
  };
  return s;
}

let srv;
const tok = {};
before(async () => {
  srv = await startServer({ args: ['--live_max_streams', '6',
    '--live_heartbeat_s', '1'] });
  await seedHouseholds(srv, 2);
  let r = await srv.req('POST', '/api/v1/departments', { body: JSON.stringify(
      { name: 'water-utility', feeds: ['readings'] }) });
  assert.equal(r.status, 201, r.text);
  r = await srv.req('POST', '/api/v1/departments', { body: JSON.stringify(
      { name: 'power', feeds: ['readings'] }) });
  assert.equal(r.status, 201, r.text);
  tok.operator = await makeToken(srv, { name: 'op', role: 'operator' });
  tok.water = await makeToken(srv, { name: 'water', role: 'publisher',
    department: 'water-utility' });
  tok.power = await makeToken(srv, { name: 'power', role: 'publisher',
    department: 'power' });
  tok.committee = await makeToken(srv, { name: 'cm', role: 'committee',
    committee: '梅园一居委' });
});
after(async () => { await srv.stop(); srv.cleanup(); });

let ts = 1764547200;
const write = (token = srv.admin) => request(srv.base, 'POST',
    '/api/v1/write?precision=s', { token,
      body: `water,household=H0000001 index=${ts - 1764547000} ${ts++}` });

test('an ingest reaches an open stream as an `ingest` event', async () => {
  const s = openStream(srv.base, { token: tok.operator });
  await s.ready;
  assert.equal(s.status, 200);
  assert.match(s.headers.get('content-type'), /^text\/event-stream/);
  const r = await write();
  assert.equal(r.status, 200, r.text);
  const ev = await s.until((e) => e.event === 'ingest' &&
      e.data.feed === 'readings', 'ingest');
  // a registry change makes the scene re-score
  assert.equal(ev.data.accepted, 1);
  assert.equal(ev.data.duplicates, 0);
  assert.equal(ev.data.newest_ns, (ts - 1) * 1e9);
  assert.ok(ev.id > 0);
  const reg = await srv.req('POST', '/api/v1/registry/households', {
    contentType: 'text/csv', body: householdsCsv([{ id: 'H0000009',
      room: 909, street: '花木街道', committee: '联洋一居委' }]) });
  assert.equal(reg.status, 200, reg.text);
  // the re-score after it, as a `scene` event with counts per street
  const sc = await s.until((e) => e.event === 'scene' &&
      e.data.streets['花木街道'], 'scene');
  assert.equal(typeof sc.data.suspects, 'number');
  assert.ok(sc.data.streets['花木街道'], JSON.stringify(sc.data));
  assert.equal(sc.data.streets['花木街道'].elderly_alerts, 0);
  s.close();
});

test('?hello=1 greets at once, with the counts only for who may read them',
    async () => {
  const stats = (await srv.req('GET', '/api/v1/stats/ingest')).json;
  const op = openStream(srv.base, { token: tok.operator, query: '?hello=1' });
  const water = openStream(srv.base, { token: tok.water, query: '?hello=1' });
  const plain = openStream(srv.base, { token: tok.operator });
  await Promise.all([op.ready, water.ready, plain.ready]);
  const hi = await op.until((e) => e.event === 'hello', 'hello', 2000);
  assert.equal(op.events[0], hi, 'the greeting comes first');
  assert.equal(hi.id, undefined, 'no id: resuming is unchanged');
  assert.equal(hi.data.stats.households, stats.households);
  assert.ok(hi.data.newest >= 0);
  const wh = await water.until((e) => e.event === 'hello', 'hello', 2000);
  assert.equal(wh.data.stats, undefined, 'a publisher reads no counts');
  await write();
  await plain.until((e) => e.event === 'ingest', 'ingest');
  assert.ok(!plain.events.some((e) => e.event === 'hello'));
  const bad = await request(srv.base, 'GET', '/api/v1/stream?hello=2',
      { token: tok.operator });
  assert.equal(bad.status, 400);
  for (const s of [op, water, plain]) s.close();
});

test('Last-Event-ID resumes after the id; an unknown id gets `reset`',
    async () => {
  const a = openStream(srv.base, { token: tok.operator });
  await a.ready;
  await write();
  const first = await a.until((e) => e.event === 'ingest', 'ingest');
  a.close();
  await write();
  await write();
  // resumed: exactly the events after `first`, in order
  const b = openStream(srv.base, { token: tok.operator,
    lastEventId: first.id });
  await b.ready;
  await b.until((e) => e.event === 'ingest' && e.id > first.id + 1 &&
      b.events.filter((x) => x.event === 'ingest').length >= 2, 'two');
  const ids = b.events.map((e) => e.id);
  assert.equal(ids[0], first.id + 1, JSON.stringify(b.events));
  assert.deepEqual(ids, [...ids].sort((x, y) => x - y));
  assert.ok(!b.events.some((e) => e.event === 'reset'));
  b.close();
  // the same with ?last_event_id=
  const q = openStream(srv.base, { token: tok.operator,
    query: `?last_event_id=${first.id}&drain=1` });
  await q.ready;
  await q.done;
  assert.equal(q.events[0].id, first.id + 1);
  // an id from before this server ran: reset first, then what is held
  const c = openStream(srv.base, { token: tok.operator, lastEventId: 5,
    query: '?drain=1' });
  await c.ready;
  await c.done;
  assert.equal(c.events[0].event, 'reset', JSON.stringify(c.events));
  assert.ok(c.events[0].data.oldest <= first.id);
  assert.ok(c.events.some((e) => e.id === first.id));
  // a bad id
  const bad = await request(srv.base, 'GET', '/api/v1/stream', {
    token: tok.operator, headers: { 'last-event-id': 'x1' } });
  assert.equal(bad.status, 400);
  assert.match(bad.text, /Last-Event-ID/);
});

test('heartbeats keep a quiet stream alive', async () => {
  const s = openStream(srv.base, { token: tok.operator });
  await s.ready;
  for (let i = 0; i < 300 && !s.comments.includes(': heartbeat'); i++)
    await sleep(20);
  assert.ok(s.comments.includes(': heartbeat'), JSON.stringify(s.comments));
  s.close();
});

test('each role gets only the events it may see', async () => {
  const water = openStream(srv.base, { token: tok.water });
  const power = openStream(srv.base, { token: tok.power });
  const cm = openStream(srv.base, { token: tok.committee });
  const op = openStream(srv.base, { token: tok.operator });
  await Promise.all([water.ready, power.ready, cm.ready, op.ready]);
  const r = await write(tok.water);
  assert.equal(r.status, 200, r.text);
  await op.until((e) => e.event === 'ingest', 'operator ingest');
  await water.until((e) => e.event === 'ingest', 'own department ingest');
  // a later event everyone with a stream would get if unfiltered
  await write();
  await op.until((e) => e.event === 'ingest' &&
      op.events.filter((x) => x.event === 'ingest').length === 2, 'second');
  await sleep(300);
  assert.equal(power.events.filter((e) => e.event === 'ingest').length, 0,
      'another department sees no ingest of the water utility');
  assert.equal(water.events.filter((e) => e.event === 'ingest').length, 1,
      'a publisher sees only its own department\'s batches');
  assert.equal(cm.events.length, 0,
      `a committee sees no district events: ${JSON.stringify(cm.events)}`);
  for (const s of [water, power, cm, op]) s.close();
});

// A stream whose client went away while it waited is noticed within a
// second: opens n streams, waiting for slots to come back.
async function openStreams(n) {
  const open = [];
  for (let attempt = 0; attempt < 100 && open.length < n; attempt++) {
    const s = openStream(srv.base, { token: tok.operator });
    await s.ready;
    if (s.status === 200) open.push(s);
    else await sleep(100);
  }
  const m = await request(srv.base, 'GET', '/metrics');
  assert.equal(open.length, n, `${n} streams never fitted: ` +
      /citybrain_live_streams \d+/.exec(m.text));
  return open;
}

test('past live_max_streams: 503 with Retry-After', async () => {
  const open = await openStreams(6);
  const r = await request(srv.base, 'GET', '/api/v1/stream',
      { token: tok.operator });
  assert.equal(r.status, 503);
  assert.ok(r.headers.get('retry-after'));
  assert.match(r.text, /live_max_streams/);
  for (const s of open) s.close();
  // the slots come back
  for (let i = 0; i < 100; i++) {
    const again = await request(srv.base, 'GET',
        '/api/v1/stream?drain=1', { token: tok.operator });
    if (again.status === 200) return;
    await sleep(50);
  }
  assert.fail('the stream slots were not given back');
});

test('a client that stops reading never stalls the server', async () => {
  // a raw socket that sends the request and then reads nothing
  const sock = connect(srv.port, '127.0.0.1');
  await new Promise((r) => sock.on('connect', r));
  sock.write(`GET /api/v1/stream HTTP/1.1\r\nHost: x\r\n` +
      `Authorization: Bearer ${tok.operator}\r\n\r\n`);
  sock.pause();
  const [live] = await openStreams(1);
  for (let i = 0; i < 40; i++) {
    const r = await write();
    assert.equal(r.status, 200, r.text);
  }
  await live.until((e) => e.event === 'ingest' &&
      live.events.filter((x) => x.event === 'ingest').length >= 40, '40');
  live.close();
  sock.destroy();
});

test('no token, no stream', async () => {
  const r = await request(srv.base, 'GET', '/api/v1/stream');
  assert.equal(r.status, 401);
});

// ---- browser sessions ----

const cookieOf = (r) => {
  const sc = r.headers.get('set-cookie');
  assert.ok(sc, 'no Set-Cookie');
  return sc.split(';')[0];
};

test('a token becomes an HttpOnly SameSite=Strict session cookie',
    async () => {
  const r = await request(srv.base, 'POST', '/api/v1/session', {
    body: JSON.stringify({ token: tok.operator }),
    contentType: 'application/json' });
  assert.equal(r.status, 201, r.text);
  const sc = r.headers.get('set-cookie');
  assert.match(sc, /^cb_session=[A-Za-z0-9_-]{43};/);
  assert.match(sc, /HttpOnly/);
  assert.match(sc, /SameSite=Strict/);
  assert.match(sc, /Path=\//);
  assert.ok(!sc.includes(tok.operator));
  assert.equal(r.json.role, 'operator');
  const cookie = cookieOf(r);
  const who = await request(srv.base, 'GET', '/api/v1/whoami',
      { headers: { cookie } });
  assert.equal(who.status, 200, who.text);
  assert.equal(who.json.name, 'op');
  // the stream takes the cookie too
  const s = openStream(srv.base, { cookie });
  await s.ready;
  assert.equal(s.status, 200);
  s.close();
  // the Authorization header works for the exchange as well
  const h = await request(srv.base, 'POST', '/api/v1/session',
      { token: tok.committee });
  assert.equal(h.status, 201, h.text);
  assert.equal(h.json.committee, '梅园一居委');
  // a wrong token gets nothing
  const bad = await request(srv.base, 'POST', '/api/v1/session', {
    body: JSON.stringify({ token: 'cb_nope' }) });
  assert.equal(bad.status, 401);
  assert.equal(bad.headers.get('set-cookie'), null);
  const none = await request(srv.base, 'POST', '/api/v1/session');
  assert.equal(none.status, 401);
});

test('a cookie-authenticated write needs X-Requested-With or JSON',
    async () => {
  const r = await request(srv.base, 'POST', '/api/v1/session', {
    body: JSON.stringify({ token: srv.admin }) });
  const cookie = cookieOf(r);
  const body = `water,household=H0000001 index=900 ${ts++}`;
  // what a cross-site form could send
  const form = await request(srv.base, 'POST', '/api/v1/write?precision=s',
      { headers: { cookie }, body, contentType: 'text/plain' });
  assert.equal(form.status, 403, form.text);
  assert.match(form.json.message, /X-Requested-With/);
  const ok = await request(srv.base, 'POST', '/api/v1/write?precision=s',
      { headers: { cookie, 'x-requested-with': 'citybrain' }, body,
        contentType: 'text/plain' });
  assert.equal(ok.status, 200, ok.text);
  const json = await request(srv.base, 'POST', '/api/v1/departments',
      { headers: { cookie }, body: JSON.stringify({ name: 'via-cookie',
        feeds: ['events'] }), contentType: 'application/json' });
  assert.equal(json.status, 201, json.text);
});

test('logout ends the session; revoking the token ends its sessions',
    async () => {
  const t = await srv.req('POST', '/api/v1/tokens', { body: JSON.stringify(
      { name: 'wall', role: 'analyst' }) });
  const r = await request(srv.base, 'POST', '/api/v1/session',
      { body: JSON.stringify({ token: t.json.token }) });
  const c1 = cookieOf(r);
  const r2 = await request(srv.base, 'POST', '/api/v1/session',
      { body: JSON.stringify({ token: t.json.token }) });
  const c2 = cookieOf(r2);
  const out = await request(srv.base, 'DELETE', '/api/v1/session',
      { headers: { cookie: c1, 'x-requested-with': 'x' } });
  assert.equal(out.status, 204);
  assert.match(out.headers.get('set-cookie'), /Max-Age=0/);
  let w = await request(srv.base, 'GET', '/api/v1/whoami',
      { headers: { cookie: c1 } });
  assert.equal(w.status, 401);
  w = await request(srv.base, 'GET', '/api/v1/whoami',
      { headers: { cookie: c2 } });
  assert.equal(w.status, 200);
  const rv = await srv.req('DELETE', `/api/v1/tokens/${t.json.id}`);
  assert.equal(rv.status, 204);
  for (let i = 0; i < 50; i++) {
    w = await request(srv.base, 'GET', '/api/v1/whoami',
        { headers: { cookie: c2 } });
    if (w.status === 401) return;
    await sleep(50);
  }
  assert.fail('the revoked token\'s session still works');
});

test('a one-time login link works once, from the API and the CLI',
    async () => {
  const r = await srv.req('POST', '/api/v1/login-links', { body:
    JSON.stringify({ name: 'wall-screen', role: 'operator', minutes: 5 }) });
  assert.equal(r.status, 201, r.text);
  assert.match(r.json.url, /^\/login\?once=[A-Za-z0-9_-]{43}$/);
  assert.ok(!r.json.url.includes('cb_'));
  const first = await request(srv.base, 'GET', r.json.url);
  assert.equal(first.status, 200, first.text);
  const cookie = cookieOf(first);
  const who = await request(srv.base, 'GET', '/api/v1/whoami',
      { headers: { cookie } });
  assert.equal(who.json.name, 'wall-screen');
  assert.equal(who.json.role, 'operator');
  const again = await request(srv.base, 'GET', r.json.url);
  assert.equal(again.status, 401);
  assert.equal(again.headers.get('set-cookie'), null);
  const junk = await request(srv.base, 'GET', '/login?once=abc');
  assert.equal(junk.status, 401);
  // only an admin makes links
  const op = await request(srv.base, 'POST', '/api/v1/login-links', {
    token: tok.operator, body: JSON.stringify({ name: 'x', role: 'admin' }) });
  assert.equal(op.status, 403);
  // the command line, beside the running server
  const out = execFileSync(BIN, ['login-link', '--role', 'committee',
    '--committee', '梅园一居委', '--data', srv.dir, '--base', srv.base],
  { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
  assert.match(out, /^http:\/\/127\.0\.0\.1:\d+\/login\?once=/);
  // the server loads the new token within a second; till then the page
  // says 503 and reloads itself, and the link stays valid
  let cli;
  for (let i = 0; i < 50; i++) {
    cli = await request(srv.base, 'GET', out.slice(srv.base.length));
    if (cli.status !== 503) break;
    assert.match(cli.text, /http-equiv=refresh/);
    await sleep(100);
  }
  assert.equal(cli.status, 200, cli.text);
  const w2 = await request(srv.base, 'GET', '/api/v1/whoami',
      { headers: { cookie: cookieOf(cli) } });
  assert.equal(w2.json.committee, '梅园一居委');
  // audited
  const audit = await srv.req('GET', '/api/v1/audit?limit=50');
  assert.ok(audit.json.some((a) => a.action === 'login_link.create'));
  assert.ok(audit.json.some((a) => a.action === 'session.create' &&
      a.object === 'link'));
});

test('a login link says when it expires; minutes are bounded', async () => {
  // (that an expired link is refused: tests/unit/test_live.c)
  const r = await srv.req('POST', '/api/v1/login-links', { body:
    JSON.stringify({ name: 'short', role: 'analyst', minutes: 1 }) });
  const exp = Date.parse(r.json.expires);
  assert.ok(exp > Date.now() && exp <= Date.now() + 61000, r.json.expires);
  const bad = await srv.req('POST', '/api/v1/login-links', { body:
    JSON.stringify({ name: 'long', role: 'analyst', minutes: 99999 }) });
  assert.equal(bad.status, 400);
  assert.match(bad.text, /minutes/);
});

test('a clean stop says bye to open streams and exits 0', async () => {
  const other = await startServer();
  const s = openStream(other.base, { token: other.admin });
  await s.ready;
  assert.equal(s.status, 200);
  await sleep(100); // parked, waiting for an event
  const res = await other.stop();
  assert.equal(res.code, 0, other.stderr());
  await s.done;
  const bye = s.events.find((e) => e.event === 'bye');
  assert.ok(bye, JSON.stringify(s.events));
  assert.match(bye.data.reason, /stopping/);
  other.cleanup();
});
