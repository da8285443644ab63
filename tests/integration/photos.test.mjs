// Photos of a case: the size limit (413), the type check (415), EXIF and
// other metadata stripped, the quota per committee (507), access by role
// and the audit of every view.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { startServer, request, makeToken, householdsCsv } from './lib.mjs';
import { jpeg, png } from './photo-bytes.mjs';

let srv;
const tok = {};
let caseOwn, caseOther, caseFree;
before(async () => {
  srv = await startServer({ args: ['--photo_quota_mb', '6'] });
  let r = await srv.req('POST', '/api/v1/registry/households', {
    contentType: 'text/csv', body: householdsCsv([
      { id: 'H0000001', room: 101 }, { id: 'H0000002', room: 102 },
      { id: 'OTHER-1', committee: '别的居委', room: 888 }]) });
  assert.equal(r.status, 200, r.text);
  tok.committee = await makeToken(srv, { name: '王阿姨', role: 'committee',
    committee: '梅园一居委' });
  tok.committee_other = await makeToken(srv, { name: '李阿姨',
    role: 'committee', committee: '别的居委' });
  tok.operator = await makeToken(srv, { name: 'op-陈', role: 'operator' });
  r = await srv.req('POST', '/api/v1/departments',
      { body: JSON.stringify({ name: 'feeds', feeds: ['events'] }) });
  assert.equal(r.status, 201, r.text);
  tok.publisher = await makeToken(srv, { name: 'pub', role: 'publisher',
    department: 'feeds' });
  const dispatched = async (hh) => {
    r = await srv.req('POST', '/api/v1/cases', { body: JSON.stringify({
      category: 'group_rental', source_kind: 'group_rental',
      source_ref: hh }) });
    assert.equal(r.status, 201, r.text);
    for (const action of ['check', 'register', 'dispatch']) {
      const t = await srv.req('POST', `/api/v1/cases/${r.json.id}/transitions`,
          { body: JSON.stringify({ action }) });
      assert.equal(t.status, 200, t.text);
    }
    return r.json.id;
  };
  caseOwn = await dispatched('H0000001');
  caseFree = await dispatched('H0000002');
  caseOther = await dispatched('OTHER-1');
});
after(async () => { await srv.stop(); srv.cleanup(); });

const upload = (who, id, body, contentType = 'image/jpeg', q = '') =>
  request(srv.base, 'POST', `/api/v1/cases/${id}/photos${q}`,
      { token: tok[who] || srv.admin, body, contentType });

// The photo's bytes as served, undecoded.
async function fetchPhoto(who, id) {
  const res = await fetch(`${srv.base}/api/v1/photos/${id}`,
      { headers: { authorization: `Bearer ${tok[who] || srv.admin}` } });
  return { status: res.status, type: res.headers.get('content-type'),
    headers: res.headers, body: Buffer.from(await res.arrayBuffer()) };
}

test('a JPEG with EXIF GPS is stored and served without its metadata',
    async () => {
  const original = jpeg({ meta: true });
  assert.ok(original.includes('Exif') && original.includes('GPS'));
  const r = await upload('committee', caseOwn, original, 'image/jpeg',
      '?visit_id=V-2026-0001');
  assert.equal(r.status, 201, r.text);
  assert.match(r.json.id, /^P[0-9a-f]{24}$/);
  assert.equal(r.json.case_id, caseOwn);
  assert.equal(r.json.content_type, 'image/jpeg');
  assert.equal(r.json.who, '王阿姨');
  assert.equal(r.json.visit_id, 'V-2026-0001');
  assert.ok(r.json.created);
  const clean = jpeg();
  assert.equal(r.json.bytes, clean.length);
  const got = await fetchPhoto('committee', r.json.id);
  assert.equal(got.status, 200);
  assert.equal(got.type, 'image/jpeg');
  assert.equal(got.headers.get('cache-control'), 'private, no-store');
  assert.equal(got.headers.get('x-content-type-options'), 'nosniff');
  for (const needle of ['Exif', 'GPS', 'Canon', 'EOS', 'xmpmeta', '王阿姨',
    '31.2304'])
    assert.ok(!got.body.includes(needle), `served bytes hold '${needle}'`);
  // exactly the same JPEG without the metadata segments
  assert.deepEqual(got.body, clean);
  // and on disk too: nothing with the metadata under DATA/photos
  const files = readdirSync(join(srv.dir, 'photos'));
  assert.ok(files.includes(`${r.json.id}.jpg`), files.join(','));
  assert.ok(!files.some((f) => f.endsWith('.tmp')));
});

test('a PNG loses its text, eXIf and tIME chunks', async () => {
  const r = await upload('committee', caseOwn, png({ meta: true }),
      'image/png');
  assert.equal(r.status, 201, r.text);
  const got = await fetchPhoto('operator', r.json.id);
  assert.equal(got.status, 200);
  assert.equal(got.type, 'image/png');
  for (const needle of ['tEXt', 'eXIf', 'tIME', 'GPS', 'Canon'])
    assert.ok(!got.body.includes(needle), `served bytes hold '${needle}'`);
  assert.deepEqual(got.body, png());
});

test('another type, or bytes that are not the image they claim: 415',
    async () => {
  const cases = [
    [Buffer.from('GIF89a\x01\x00\x01\x00', 'latin1'), 'image/gif'],
    [jpeg(), 'text/plain'],
    [jpeg(), ''], // no Content-Type
    [Buffer.from('hello, not a picture'), 'image/jpeg'],
    [png(), 'image/jpeg'],
    [jpeg(), 'image/png'],
    [jpeg().subarray(0, 60), 'image/jpeg'],          // truncated
    [png().subarray(0, png().length - 5), 'image/png'],
  ];
  for (const [body, type] of cases) {
    const r = await upload('committee', caseOwn, body, type);
    assert.equal(r.status, 415, `${type}: ${r.status} ${r.text}`);
    assert.equal(r.json.error, 'unsupported media type');
  }
  const bad = Buffer.from(png());
  bad[20] ^= 0xff; // inside IHDR: its CRC no longer matches
  const r = await upload('committee', caseOwn, bad, 'image/png');
  assert.equal(r.status, 415);
  assert.match(r.json.message, /CRC/);
});

// A raw upload: the head, then the body as chunks of `chunks` (or none);
// resolves with the answer's first line.
function rawUpload(head, chunks) {
  return new Promise((resolve, reject) => {
    const sock = connect(srv.port, '127.0.0.1');
    let answer = '';
    sock.on('data', (d) => { answer += d; });
    sock.on('error', () => {});
    sock.on('close', () => resolve(answer.split('\r\n')[0]));
    sock.on('connect', async () => {
      sock.write(head);
      for (const c of chunks) {
        sock.write(`${c.length.toString(16)}\r\n`);
        sock.write(c);
        if (!sock.write('\r\n'))
          await new Promise((r) => sock.once('drain', r));
      }
      if (chunks.length) sock.write('0\r\n\r\n');
      setTimeout(() => { resolve(answer.split('\r\n')[0]); sock.destroy(); },
          5000);
    });
    setTimeout(() => reject(new Error('no answer')), 15000);
  });
}

test('over 5 MB: 413, by Content-Length and when streamed', async () => {
  const head = (extra) => `POST /api/v1/cases/${caseOwn}/photos HTTP/1.1\r\n` +
      `Host: x\r\nAuthorization: Bearer ${tok.committee}\r\n` +
      `Content-Type: image/jpeg\r\n${extra}\r\n`;
  // refused on the header, before any body byte
  let line = await rawUpload(head(`Content-Length: ${5 * 1024 * 1024 + 1}` +
      '\r\n'), []);
  assert.match(line, /^HTTP\/1\.1 413/);
  // chunked, with no Content-Length: cut while it streams
  const piece = Buffer.alloc(256 * 1024, 0x2a);
  line = await rawUpload(head('Transfer-Encoding: chunked\r\n'),
      Array(24).fill(piece));
  assert.match(line, /^HTTP\/1\.1 413/);
  // just under the limit is taken
  const r = await upload('admin', caseFree,
      jpeg({ pad: 5 * 1024 * 1024 - 400 }));
  assert.equal(r.status, 201, r.text);
}, { timeout: 30000 });

test('a committee\'s quota: full at photo_quota_mb (6), others unaffected',
    async () => {
  const third = jpeg({ pad: 2.5 * 1024 * 1024 });
  for (let i = 0; i < 2; i++) {
    const r = await upload('committee_other', caseOther, third);
    assert.equal(r.status, 201, r.text);
  }
  const r = await upload('committee_other', caseOther, third);
  assert.equal(r.status, 507, r.text);
  assert.match(r.json.message, /quota/);
  const list = await request(srv.base, 'GET',
      `/api/v1/cases/${caseOther}/photos`, { token: tok.committee_other });
  assert.equal(list.json.length, 2, 'the refused photo is not stored');
  const files = readdirSync(join(srv.dir, 'photos'));
  assert.ok(!files.some((f) => f.endsWith('.tmp')));
  // another committee still has its own quota
  const own = await upload('committee', caseOwn, third);
  assert.equal(own.status, 201, own.text);
});

test('access: own committee, operator and admin see; others get 403',
    async () => {
  const up = await upload('committee', caseOwn, jpeg());
  assert.equal(up.status, 201);
  const id = up.json.id;
  assert.equal((await fetchPhoto('committee', id)).status, 200);
  assert.equal((await fetchPhoto('operator', id)).status, 200);
  assert.equal((await fetchPhoto('admin', id)).status, 200);
  assert.equal((await fetchPhoto('committee_other', id)).status, 403);
  assert.equal((await fetchPhoto('publisher', id)).status, 403);
  // no existence oracle for a committee; a 404 for staff
  assert.equal((await fetchPhoto('committee_other',
      'P000000000000000000000000')).status, 403);
  assert.equal((await fetchPhoto('admin', 'P000000000000000000000000')).status,
      404);
  const sneaky = await fetchPhoto('committee', '..%2f..%2fadmin.token');
  assert.ok([403, 404].includes(sneaky.status), `${sneaky.status}`);
  // lists and uploads follow the case
  let r = await request(srv.base, 'GET', `/api/v1/cases/${caseOwn}/photos`,
      { token: tok.committee_other });
  assert.equal(r.status, 403);
  r = await upload('committee_other', caseOwn, jpeg());
  assert.equal(r.status, 403);
  r = await upload('operator', caseOwn, jpeg());
  assert.equal(r.status, 403, 'an operator does not visit');
  r = await request(srv.base, 'GET', `/api/v1/cases/${caseOwn}/photos`,
      { token: tok.committee });
  assert.equal(r.status, 200);
  assert.ok(r.json.some((p) => p.id === id));
  assert.ok(r.json.every((p) => p.case_id === caseOwn));
  assert.ok(r.json.some((p) => p.visit_id === 'V-2026-0001'));
});

test('every view is audited: who, which photo, which case', async () => {
  const up = await upload('committee', caseOwn, jpeg());
  const id = up.json.id;
  await fetchPhoto('operator', id);
  await fetchPhoto('committee_other', id);
  const r = await srv.req('GET', '/api/v1/audit?limit=50');
  const view = r.json.find((a) => a.action === 'photo.read' &&
      a.who === 'op-陈');
  assert.ok(view, JSON.stringify(r.json.slice(0, 5)));
  assert.equal(view.object, `photo=${id} case=${caseOwn}`);
  const denied = r.json.find((a) => a.action === 'photo.read.denied' &&
      a.who === '李阿姨');
  assert.ok(denied, 'a refused view is audited too');
  assert.ok(r.json.some((a) => a.action === 'photo.upload' &&
      a.object === `case=${caseOwn} photo=${id}`));
});

test('the phone page\'s way: a session cookie and X-Requested-With',
    async () => {
  const r = await request(srv.base, 'POST', '/api/v1/session', {
    body: JSON.stringify({ token: tok.committee }),
    contentType: 'application/json' });
  assert.equal(r.status, 201, r.text);
  const cookie = r.headers.get('set-cookie').split(';')[0];
  let up = await request(srv.base, 'POST', `/api/v1/cases/${caseOwn}/photos`,
      { body: jpeg(), contentType: 'image/jpeg', headers: { cookie } });
  assert.equal(up.status, 403, 'a cross-site form cannot upload');
  up = await request(srv.base, 'POST', `/api/v1/cases/${caseOwn}/photos`,
      { body: jpeg(), contentType: 'image/jpeg',
        headers: { cookie, 'x-requested-with': 'fetch' } });
  assert.equal(up.status, 201, up.text);
  const res = await fetch(`${srv.base}/api/v1/photos/${up.json.id}`,
      { headers: { cookie } });
  assert.equal(res.status, 200);
});
