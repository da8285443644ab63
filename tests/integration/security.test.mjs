// What a client with a valid low-privilege token (or none) must not be able
// to do: one test per hole found by trying every role against every
// endpoint with hostile input.  The scene holes (feedback on any flat, the
// summary's leak) are tested on real data in district.test.mjs.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, cpSync, mkdirSync, readFileSync, rmSync,
  existsSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import net from 'node:net';
import zlib from 'node:zlib';
import { startServer, request, makeToken, seedHouseholds, householdsCsv,
  tempDir, BIN, sleep } from './lib.mjs';

const here = dirname(fileURLToPath(import.meta.url));
let srv;
const tok = {};
const ids = {};
before(async () => {
  srv = await startServer();
  await seedHouseholds(srv, 3);
  tok.committee = await makeToken(srv, { name: 'cm', role: 'committee',
    committee: '梅园一居委' });
  tok.analyst = await makeToken(srv, { name: 'an', role: 'analyst' });
  tok.operator = await makeToken(srv, { name: 'op', role: 'operator' });
});
after(async () => { await srv.stop(); srv.cleanup(); });

const as = (who, method, path, opts = {}) => request(srv.base, method, path,
    { token: tok[who], ...opts });
const utf8 = new TextDecoder('utf-8', { fatal: true });

// Sends raw bytes, resolves with the raw response once the server closes.
function raw(port, bytes, { localAddress } = {}) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    const s = net.connect({ host: '127.0.0.1', port, localAddress }, () =>
      s.end(bytes));
    s.on('data', (d) => chunks.push(d));
    s.on('error', reject);
    s.on('close', () => resolve(Buffer.concat(chunks)));
  });
}

// Polls fn until it returns true, at most `tries` times, 200 ms apart.
async function eventually(fn, tries = 50) {
  for (let i = 0; i < tries; i++) {
    if (await fn()) return true;
    await sleep(200);
  }
  return false;
}

test('2: tokens made and revoked by the CLI reach the running server',
    async () => {
  let r = await srv.req('POST', '/api/v1/tokens', { body: JSON.stringify(
      { name: 'soon-revoked', role: 'analyst' }) });
  const { id, token } = r.json;
  r = await request(srv.base, 'GET', '/api/v1/whoami', { token });
  assert.equal(r.status, 200);
  const out = spawnSync(BIN, ['token', 'revoke', String(id), '--data',
    srv.dir], { encoding: 'utf8' });
  assert.equal(out.status, 0, out.stderr);
  assert.ok(await eventually(async () => (await request(srv.base, 'GET',
      '/api/v1/whoami', { token })).status === 401),
      'a token revoked by the CLI still works on the running server');
  assert.match(out.stderr, /revoked/);
  const made = execFileSync(BIN, ['token', 'create', '--name', 'from-cli',
    '--role', 'analyst', '--data', srv.dir], { encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  assert.match(made, /^cb_[0-9a-f]{64}$/);
  assert.ok(await eventually(async () => (await request(srv.base, 'GET',
      '/api/v1/whoami', { token: made })).status === 200),
      'a token made by the CLI is refused by the running server');
  // A revocation that cannot happen says so and fails.
  const bad = spawnSync(BIN, ['token', 'revoke', '999999', '--data',
    srv.dir], { encoding: 'utf8' });
  assert.notEqual(bad.status, 0);
  assert.match(bad.stderr, /not revoked/);
});

test('4: committee names are compared in full, not as 127-byte prefixes',
    async () => {
  const prefix = 'x'.repeat(127);
  const a = prefix + 'A'.repeat(73), b = prefix + 'B'.repeat(73);
  let r = await srv.req('POST', '/api/v1/registry/households', {
    contentType: 'text/csv', body: householdsCsv([
      { id: 'LONG-A', committee: a, room: 901 },
      { id: 'LONG-B', committee: b, room: 902 }]) });
  assert.equal(r.status, 200, r.text);
  const short = await makeToken(srv, { name: 'prefix', role: 'committee',
    committee: prefix });
  for (const id of ['LONG-A', 'LONG-B']) {
    r = await request(srv.base, 'GET', `/api/v1/households/${id}`,
        { token: short });
    assert.equal(r.status, 403, `${id}: a prefix token read it`);
  }
  const full = await makeToken(srv, { name: 'full-a', role: 'committee',
    committee: a });
  r = await request(srv.base, 'GET', '/api/v1/households/LONG-A',
      { token: full });
  assert.equal(r.status, 200, r.text);
  r = await request(srv.base, 'GET', '/api/v1/households/LONG-B',
      { token: full });
  assert.equal(r.status, 403);
});

test('5: invalid UTF-8 in a reason or a path never reaches JSON output',
    async () => {
  const req = Buffer.concat([Buffer.from(
      'GET /api/v1/households/H0000001 HTTP/1.1\r\nHost: x\r\n' +
      `Authorization: Bearer ${srv.admin}\r\nX-Audit-Reason: `),
  Buffer.from([0xff, 0xfe]), Buffer.from('\r\nConnection: close\r\n\r\n')]);
  const resp = await raw(srv.port, req);
  assert.match(resp.toString('latin1'), /^HTTP\/1\.1 200/);
  const res = await fetch(`${srv.base}/api/v1/audit?limit=5`,
      { headers: { authorization: `Bearer ${srv.admin}` } });
  const text = utf8.decode(await res.arrayBuffer());  // throws if invalid
  const audit = JSON.parse(text);
  assert.equal(audit[0].reason, '\ufffd\ufffd');
  const res2 = await fetch(`${srv.base}/api/v1/households/%FF%FEx`,
      { headers: { authorization: `Bearer ${srv.admin}` } });
  assert.equal(res2.status, 404);
  const body = utf8.decode(await res2.arrayBuffer());
  assert.match(JSON.parse(body).message, /\ufffd\ufffdx/);
});

function peakRss(pid) {
  const st = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmHWM:\s+(\d+) kB/.exec(st)[1]) * 1024;
}

test('6: an error in a body of 40 M lines costs no per-line memory',
    async () => {
  const lines = 40_000_000;
  const body = zlib.gzipSync(Buffer.concat([
    Buffer.from('water,household=NOPE index=1 1764547200'),
    Buffer.alloc(lines, 10)]));
  const before_ = peakRss(srv.proc.pid);
  const r = await srv.req('POST', '/api/v1/write?precision=s', { body,
    headers: { 'content-encoding': 'gzip' } });
  assert.equal(r.status, 400, r.text);
  assert.equal(r.json.errors[0].column, 17);
  const grew = peakRss(srv.proc.pid) - before_;
  // The body itself is 40 MB decompressed; an index of every line start
  // (8 bytes each) alone would be 320 MB more.
  assert.ok(grew < 200e6, `peak memory grew by ${Math.round(grew / 1e6)} MB`);
});

test('7: a per-IP connection limit leaves other addresses served',
    async () => {
  const s2 = await startServer({ args: ['--max_connections_per_ip', '8'] });
  const socks = [];
  try {
    // 12 sockets from 127.0.0.2 holding partial headers: 8 are kept, the
    // rest refused at accept.
    for (let i = 0; i < 12; i++) {
      const s = net.connect({ host: '127.0.0.1', port: s2.port,
        localAddress: '127.0.0.2' });
      s.on('error', () => {});
      s.on('close', () => { s.closed_ = true; });
      s.on('connect', () => s.write('GET /healthz HTTP/1.1\r\nHost: x\r\n'));
      socks.push(s);
    }
    assert.ok(await eventually(async () =>
      socks.filter((s) => s.closed_).length >= 4), 'no connection refused');
    // 127.0.0.1 is another address: it is still served meanwhile.
    const r = await fetch(`${s2.base}/healthz`);
    assert.equal(r.status, 200);
    assert.equal(socks.filter((s) => s.closed_).length, 4);
  } finally {
    for (const s of socks) s.destroy();
    await s2.stop();
    s2.cleanup();
  }
});

test('7: a slow drip keeps no connection past the header deadline',
    async () => {
  const s3 = await startServer({ args: ['--header_timeout_s', '1'] });
  try {
    const drip = net.connect({ host: '127.0.0.1', port: s3.port });
    drip.on('error', () => {});
    let closed = false;
    drip.on('close', () => { closed = true; });
    const timer = setInterval(() => {
      if (!drip.destroyed) drip.write('X');
    }, 100);
    drip.write('GET /healthz HTTP/1.1\r\nHost: x\r\nX-Drip: ');
    // connection_timeout_s (30 s of silence) never fires on a drip
    const ok = await eventually(async () => closed, 40);
    clearInterval(timer);
    assert.ok(ok, 'a dripping connection was kept open');
    const m = await (await fetch(`${s3.base}/metrics`)).text();
    assert.ok(Number(/citybrain_http_header_timeouts_total (\d+)/.exec(m)[1])
        >= 1, m);
    // requests that send their header at once are served as before
    assert.equal((await fetch(`${s3.base}/healthz`)).status, 200);
  } finally {
    await s3.stop();
    s3.cleanup();
  }
});

test('8: a department writes only what its grants name', async () => {
  const dept = async (d) => {
    const r = await srv.req('POST', '/api/v1/departments',
        { body: JSON.stringify(d) });
    assert.equal(r.status, 201, r.text);
  };
  await dept({ name: 'water-only', feeds: ['readings'],
    measurements: ['water'] });
  await dept({ name: 'all-meters', feeds: ['readings'] });
  await dept({ name: 'ambulance', feeds: ['events'], sources: ['120'] });
  await dept({ name: 'meituan', feeds: ['deliveries'], sources: ['MT'] });
  const t = {
    water: await makeToken(srv, { name: 'w', role: 'publisher',
      department: 'water-only' }),
    all: await makeToken(srv, { name: 'a', role: 'publisher',
      department: 'all-meters' }),
    amb: await makeToken(srv, { name: 'amb', role: 'publisher',
      department: 'ambulance' }),
    mt: await makeToken(srv, { name: 'mt', role: 'publisher',
      department: 'meituan' }),
  };
  const write = (who, path, body) => request(srv.base, 'POST', path,
      { token: t[who], body });
  let r = await write('water', '/api/v1/write?precision=s',
      'water,household=H0000001 index=1 1764547200\n' +
      'electricity,household=H0000001 index=1 1764547200');
  assert.equal(r.status, 403, r.text);
  assert.match(r.json.message, /line 2.*electricity/);
  r = await write('water', '/api/v1/write?precision=s',
      'water,household=H0000001 index=1 1764547200');
  assert.equal(r.status, 200, r.text);
  r = await write('all', '/api/v1/write?precision=s',
      'electricity,household=H0000001 index=1 1764547200\n' +
      'gas,household=H0000001 index=1 1764547200');
  assert.equal(r.status, 200, 'an unnarrowed grant keeps all measurements');
  const ev = (source) => JSON.stringify({ event_id: `e-${source}`, source,
    type: 'ambulance_dispatch', ts: 1764547200, street: '陆家嘴街道' });
  r = await write('amb', '/api/v1/events', ev('110'));
  assert.equal(r.status, 403, r.text);
  r = await write('amb', '/api/v1/events', ev('120'));
  assert.equal(r.status, 200, r.text);
  const order = (id) => JSON.stringify({ order_id: id, ts: 1764547200,
    household_id: 'H0000001', recipient: 'abc' });
  r = await write('mt', '/api/v1/deliveries', order('EL-1'));
  assert.equal(r.status, 403, r.text);
  r = await write('mt', '/api/v1/deliveries', order('MT-1'));
  assert.equal(r.status, 200, r.text);
  r = await srv.req('GET', '/api/v1/departments');
  const wo = r.json.find((d) => d.name === 'water-only');
  assert.deepEqual(wo.measurements, ['water']);
  assert.equal(r.json.find((d) => d.name === 'all-meters').sources, null);
});

test('8: a store made by the base code migrates; its grants keep working',
    async () => {
  // Made by ddf8f34: department water-utility {readings}, a publisher
  // token (fixture's publisher.token), households H0000001..3.
  const dir = tempDir();
  cpSync(join(here, 'fixtures', 'store-ddf8f34'), dir, { recursive: true });
  const s3 = await startServer({ dir });
  try {
    const pub = readFileSync(join(dir, 'publisher.token'), 'utf8').trim();
    const r = await request(s3.base, 'POST', '/api/v1/write?precision=s', {
      token: pub, body: 'water,household=H0000001 index=1 1764547200\n' +
        'electricity,household=H0000001 index=2 1764547200\n' +
        'gas,household=H0000001 index=3 1764547200' });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.accepted, 3);
    const d = await s3.req('GET', '/api/v1/departments');
    assert.deepEqual(d.json[0].measurements, ['water', 'electricity', 'gas']);
    const a = await s3.req('GET', '/api/v1/audit');
    assert.ok(Array.isArray(a.json));
  } finally {
    await s3.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('9: events are street-level for analysts and committees, full and ' +
    'audited for operators', async () => {
  let r = await srv.req('POST', '/api/v1/events', { body: JSON.stringify({
    event_id: 'fall-1', source: '120', type: 'ambulance_dispatch',
    ts: 1764547300, lat: 31.230412, lon: 121.505911, street: '陆家嘴街道',
    attrs: { reason: 'fall', priority: 'A' } }) });
  assert.equal(r.status, 200, r.text);
  for (const who of ['analyst', 'committee']) {
    r = await as(who, 'GET', '/api/v1/events?source=120');
    assert.equal(r.status, 200);
    const e = r.json.find((x) => x.event_id === 'fall-1');
    assert.equal(e.street, '陆家嘴街道');
    assert.ok(!('lat' in e) && !('lon' in e) && !('attrs' in e),
        `${who} sees ${JSON.stringify(e)}`);
    assert.doesNotMatch(r.text, /fall"/);
  }
  r = await as('operator', 'GET', '/api/v1/events?source=120',
      { headers: { 'x-audit-reason': 'dispatch review' } });
  const e = r.json.find((x) => x.event_id === 'fall-1');
  assert.equal(e.attrs.reason, 'fall');
  assert.equal(e.lat, 31.230412);
  const audit = (await srv.req('GET', '/api/v1/audit?limit=5')).json;
  assert.ok(audit.some((a) => a.action === 'events.read' &&
      a.who === 'op' && a.reason === 'dispatch review'));
});

test('10: a committee cannot tell unknown ids from others\' ids; denials ' +
    'are audited', async () => {
  await srv.req('POST', '/api/v1/registry/households', {
    contentType: 'text/csv', body: householdsCsv([
      { id: 'OTHER-1', committee: '别的居委', room: 777 }]) });
  const other = await as('committee', 'GET', '/api/v1/households/OTHER-1');
  const none = await as('committee', 'GET', '/api/v1/households/NO-SUCH');
  assert.equal(other.status, 403);
  assert.equal(none.status, 403);
  assert.equal(none.json.error, other.json.error);
  const audit = (await srv.req('GET', '/api/v1/audit?limit=10')).json;
  assert.ok(audit.some((a) => a.action === 'household.read.denied' &&
      a.object === 'household:NO-SUCH'));
  assert.ok(audit.some((a) => a.action === 'household.read.denied' &&
      a.object === 'household:OTHER-1'));
  // other roles still learn that an id is unknown
  assert.equal((await as('analyst', 'GET',
      '/api/v1/households/NO-SUCH')).status, 404);
});

test('11: the audit names the token id; /metrics shows no token names',
    async () => {
  const one = await srv.req('POST', '/api/v1/tokens', { body: JSON.stringify(
      { name: 'twin', role: 'analyst' }) });
  const two = await srv.req('POST', '/api/v1/tokens', { body: JSON.stringify(
      { name: 'twin', role: 'analyst' }) });
  for (const t of [one, two])
    await request(srv.base, 'GET', '/api/v1/households/H0000002',
        { token: t.json.token });
  const audit = (await srv.req('GET', '/api/v1/audit?limit=5')).json
      .filter((a) => a.who === 'twin');
  assert.deepEqual(audit.map((a) => a.token_id).sort(),
      [one.json.id, two.json.id].sort());
  await srv.req('POST', '/api/v1/departments', { body: JSON.stringify(
      { name: 'secret-dept', feeds: ['readings'] }) });
  const pub = await makeToken(srv, { name: 'secret-token-name',
    role: 'publisher', department: 'secret-dept' });
  const r = await request(srv.base, 'POST', '/api/v1/write?precision=s',
      { token: pub, body: 'water,household=H0000003 index=1 1764547200' });
  assert.equal(r.status, 200, r.text);
  const m = await (await fetch(`${srv.base}/metrics`)).text();
  assert.doesNotMatch(m, /secret-token-name/);
  assert.match(m, /source="token-\d+"/);
});

test('12: delivery tallies per platform are bounded', async () => {
  const orders = [];
  for (let i = 0; i < 100; i++)
    orders.push(JSON.stringify({ order_id: `P${i}-1`, ts: 1764547200,
      household_id: 'H0000001', recipient: 'abc' }));
  const r = await srv.req('POST', '/api/v1/deliveries',
      { body: orders.join('\n') });
  assert.equal(r.status, 200, r.text);
  const st = (await srv.req('GET', '/api/v1/stats/ingest')).json;
  const keys = Object.keys(st.address_match_rate_by_source);
  assert.ok(keys.length <= 64, `${keys.length} platforms listed`);
  assert.ok(keys.includes('other'));
});

test('12: HEAD /healthz, and error bodies name their status', async () => {
  let r = await fetch(`${srv.base}/healthz`, { method: 'HEAD' });
  assert.equal(r.status, 200);
  r = await srv.req('PUT', '/healthz');
  assert.equal(r.status, 405);
  assert.equal(r.json.error, 'method not allowed');
  r = await srv.req('POST', '/api/v1/write', { body: 'x',
    headers: { 'content-encoding': 'br' } });
  assert.equal(r.status, 415);
  assert.equal(r.json.error, 'unsupported media type');
});

test('12: %00 in a path is refused, not cut short', async () => {
  const r = await srv.req('GET', '/api/v1/households/H0000001%00junk');
  assert.equal(r.status, 400, r.text);
  assert.match(r.json.message, /NUL/);
});

test('12: a data directory this user cannot write is reported as such',
    () => {
  const dir = tempDir();
  chmodSync(dir, 0o555);
  const cmd = process.getuid() === 0
    ? ['setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', BIN,
      'token', 'list', '--data', dir]]
    : [BIN, ['token', 'list', '--data', dir]];
  const out = spawnSync(cmd[0], cmd[1], { encoding: 'utf8' });
  rmSync(dir, { recursive: true, force: true });
  assert.notEqual(out.status, 0);
  assert.match(out.stderr, /not writable/);
  assert.doesNotMatch(out.stderr, /cannot create/);
});
