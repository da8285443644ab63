// Test harness: starts the real citybrain binary on loopback with a
// temporary data directory and talks to it over HTTP, as a client would.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
export const BIN = process.env.CITYBRAIN_BIN ||
    join(here, '..', '..', 'build', 'citybrain');

// Under `make integration-asan` the binary is the ASan+UBSan build, and a
// sanitizer report in a server's stderr fails the test that stops it (and,
// if no test stops it, the whole file at exit).
export const SANITIZED = !!process.env.CITYBRAIN_SANITIZED;
const SANITIZER_REPORT =
    /ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|SUMMARY: \w+Sanitizer/;
const reports = [];
export function sanitizerReport(stderr) {
  const m = SANITIZER_REPORT.exec(stderr);
  return m ? stderr.slice(Math.max(0, m.index - 200), m.index + 4000) : null;
}
process.on('exit', () => {
  if (!reports.length) return;
  console.error(`sanitizer reports from the server:\n${reports.join('\n')}`);
  process.exitCode = 1;
});

export function tempDir(prefix = 'citybrain-test-') {
  return mkdtempSync(join(tmpdir(), prefix));
}

// Starts `citybrain serve` on a free port; resolves once /healthz answers.
export async function startServer({ dir, args = [], env = {} } = {}) {
  const own = !dir;
  dir = dir || tempDir();
  const proc = spawn(BIN, ['serve', '--data', dir, '--listen',
    '127.0.0.1:0', '--log_level', 'warn', ...args],
    { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  const port = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(
        `server did not start:\n${stderr}`)), 15000);
    proc.stderr.on('data', (d) => {
      stderr += d;
      const m = /serving on http:\/\/\S+ \(port (\d+)\)/.exec(stderr);
      if (m) { clearTimeout(timer); resolve(Number(m[1])); }
    });
    proc.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited ${code}:\n${stderr}`));
    });
  });
  proc.removeAllListeners('exit');
  const base = `http://127.0.0.1:${port}`;
  const admin = readFileSync(join(dir, 'admin.token'), 'utf8').trim();
  const exited = new Promise((r) => proc.on('exit', (code, sig) => {
    const report = sanitizerReport(stderr);
    if (report) reports.push(report);
    r({ code, sig, report });
  }));
  // Fails when the server's stderr holds a sanitizer report.
  const checked = async (p) => {
    const res = await p;
    if (res.report) {
      reports.splice(reports.indexOf(res.report), 1);
      throw new Error(`sanitizer report from the server:\n${res.report}`);
    }
    return res;
  };
  const srv = {
    dir, port, base, admin, proc, exited,
    stderr: () => stderr,
    async stop() {
      proc.kill('SIGTERM');
      return checked(exited);
    },
    async kill9() {
      proc.kill('SIGKILL');
      return checked(exited);
    },
    // The sanitizer report so far, or null.
    report: () => sanitizerReport(stderr),
    cleanup() { if (own) rmSync(dir, { recursive: true, force: true }); },
    req: (method, path, opts = {}) => request(base, method, path,
        { token: admin, ...opts }),
  };
  return srv;
}

// One HTTP request; returns {status, headers, text, json}.
export async function request(base, method, path,
    { token, body, headers = {}, contentType } = {}) {
  const h = { ...headers };
  if (token) h.authorization = `Bearer ${token}`;
  if (contentType) h['content-type'] = contentType;
  const res = await fetch(base + path, { method, headers: h, body });
  const text = await res.text();
  let json;
  try { json = text ? JSON.parse(text) : undefined; } catch { json = undefined; }
  return { status: res.status, headers: res.headers, text, json };
}

export function householdsCsv(rows) {
  const head = 'household_id,street,committee,building,address,lat,lon,' +
      'area_m2,rooms,registered_occupants';
  return [head, ...rows.map((r) => [r.id, r.street || '陆家嘴街道',
    r.committee || '梅园一居委', r.building || '张杨路123弄4号',
    r.address || `张杨路123弄4号${r.room || 502}室`, r.lat || 31.23,
    r.lon || 121.5, r.area || 60, r.rooms || 2, r.occ ?? 2].join(','))]
      .join('\n') + '\n';
}

// Registers n households H0000001.. with distinct rooms, returns their ids.
export async function seedHouseholds(srv, n = 3) {
  const rows = [];
  for (let i = 1; i <= n; i++)
    rows.push({ id: `H${String(i).padStart(7, '0')}`, room: 100 + i });
  const r = await srv.req('POST', '/api/v1/registry/households',
      { body: householdsCsv(rows), contentType: 'text/csv' });
  if (r.status !== 200) throw new Error(`seed failed: ${r.status} ${r.text}`);
  return rows.map((x) => x.id);
}

export async function makeToken(srv, fields) {
  const r = await srv.req('POST', '/api/v1/tokens',
      { body: JSON.stringify(fields), contentType: 'application/json' });
  if (r.status !== 201) throw new Error(`token: ${r.status} ${r.text}`);
  return r.json.token;
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Polls fn every 100 ms until it returns something truthy, and returns
// that; throws naming `what` after ms milliseconds.
export async function until(what, fn, ms = 15000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}
