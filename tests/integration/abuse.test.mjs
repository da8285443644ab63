// Memory stays bounded under abuse: a 1 GB upload, 1,000 idle connections
// and slow-loris clients.  Peak RSS (VmHWM) is read from /proc and printed
// so bench/abuse can record it; the assertions are on memory and on the
// server still answering, never on time.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { startServer, sleep } from './lib.mjs';

let srv;
const MB = 1024 * 1024;
const status = (key) => Number(new RegExp(`${key}:\\s+(\\d+) kB`)
    .exec(readFileSync(`/proc/${srv.proc.pid}/status`, 'utf8'))[1]) * 1024;
const rss = () => status('VmRSS');
const hwm = () => status('VmHWM');
const report = (what, bytes) =>
  console.log(`abuse: ${what}: ${(bytes / MB).toFixed(1)} MiB`);

before(async () => {
  // One client address opens them all here: the per-address limit is
  // raised so that the total limit is what is tested.
  srv = await startServer({ args: ['--connection_timeout_s', '3',
    '--max_connections', '1500', '--max_connections_per_ip', '1500',
    '--max_body_bytes', String(16 * MB)] });
});
after(async () => { await srv.stop(); srv.cleanup(); });

async function healthy() {
  const r = await fetch(`${srv.base}/healthz`);
  return r.status === 200;
}

test('a 1 GB streamed upload is refused with bounded memory',
    { timeout: 120000 }, async () => {
  const before_ = rss();
  report('rss at start', before_);
  const chunk = Buffer.alloc(MB, 0x61);
  let sent = 0;
  const sock = net.connect(srv.port, '127.0.0.1');
  await new Promise((r) => sock.on('connect', r));
  sock.write('POST /api/v1/write HTTP/1.1\r\nHost: x\r\n' +
      `Authorization: Bearer ${srv.admin}\r\n` +
      'Transfer-Encoding: chunked\r\n\r\n');
  let answer = '';
  sock.on('data', (d) => { answer += d; });
  let closed = false;
  sock.on('close', () => { closed = true; });
  sock.on('error', () => { closed = true; });
  while (sent < 1024 * MB && !closed && !answer) {
    sock.write(`${chunk.length.toString(16)}\r\n`);
    sock.write(chunk);
    const ok = sock.write('\r\n');
    sent += chunk.length;
    if (!ok) await new Promise((r) => { sock.once('drain', r);
      sock.once('close', r); });
  }
  if (!closed) sock.write('0\r\n\r\n');
  for (let i = 0; i < 200 && !answer && !closed; i++) await sleep(50);
  sock.destroy();
  report(`peak rss after ${(sent / MB).toFixed(0)} MiB uploaded`, hwm());
  assert.match(answer, /^HTTP\/1\.1 413/);
  assert.ok(hwm() - before_ < 200 * MB, `peak grew ${(hwm() - before_) / MB} MiB`);
  assert.ok(await healthy());
});

test('a 1 GB Content-Length is refused before the body is read', async () => {
  const sock = net.connect(srv.port, '127.0.0.1');
  await new Promise((r) => sock.on('connect', r));
  let answer = '';
  sock.on('data', (d) => { answer += d; });
  sock.write('POST /api/v1/write HTTP/1.1\r\nHost: x\r\n' +
      `Authorization: Bearer ${srv.admin}\r\nContent-Length: ${1024 * MB}\r\n\r\n`);
  for (let i = 0; i < 50 && !answer; i++) await sleep(50);
  sock.destroy();
  assert.match(answer, /^HTTP\/1\.1 413/);
});

test('1,000 idle connections are held with bounded memory', async () => {
  const start = rss();
  const socks = [];
  for (let i = 0; i < 1000; i++) {
    const s = net.connect(srv.port, '127.0.0.1');
    s.on('error', () => {});
    socks.push(s);
  }
  await Promise.all(socks.map((s) => new Promise((r) => {
    s.once('connect', r); s.once('error', r); })));
  await sleep(500);
  const held = rss();
  report('rss with 1,000 idle connections', held);
  assert.ok(await healthy(), 'the server still answers');
  assert.ok(held - start < 100 * MB, `grew ${(held - start) / MB} MiB`);
  socks.forEach((s) => s.destroy());
});

test('slow-loris clients are cut off and do not block others',
    { timeout: 30000 }, async () => {
  const socks = [];
  let closedCount = 0;
  for (let i = 0; i < 200; i++) {
    const s = net.connect(srv.port, '127.0.0.1');
    s.on('error', () => {});
    s.on('close', () => { closedCount++; });
    socks.push(s);
  }
  await sleep(200);
  // One header byte every second: slower than the 3 s timeout allows for a
  // whole request, but each byte resets the idle timer; the server's
  // per-connection memory limit and timeout must still bound them.
  const drip = setInterval(() => socks.forEach((s) => {
    if (!s.destroyed) s.write('X');
  }), 1000);
  await sleep(1500);
  assert.ok(await healthy(), 'others are served during the attack');
  // Stop dripping: idle connections must be closed by the timeout.
  clearInterval(drip);
  await sleep(5000);
  report('rss after slow-loris', rss());
  assert.ok(closedCount >= 190, `only ${closedCount} of 200 were closed`);
  socks.forEach((s) => s.destroy());
});
