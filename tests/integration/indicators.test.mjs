// Indicators and alerts through the server: an indicator added through
// the API is live and back-filled without a restart; a rule fires, is
// delivered to webhook receivers in Alertmanager's webhook shape (one
// receiver fails twice, then recovers: retries; one never answers: dead
// letter), resolves, and its state survives a restart with no duplicate
// open alert.  The payload carries no household id.  Optionally the alerts
// are pushed to a real Alertmanager (skipped when its binary is missing).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, seedHouseholds, sleep, until } from './lib.mjs';

const HOUR = 3600;

// Events of source 110 in the last closed hour: n of type "theft" on S1.
function events(n, prefix) {
  const hour = Math.floor(Date.now() / 1000 / HOUR) * HOUR - HOUR;
  const lines = [];
  for (let i = 0; i < n; i++) {
    lines.push(JSON.stringify({ event_id: `${prefix}${i}`, source: '110',
      type: 'theft', ts: new Date((hour + 60 * (i + 1)) * 1000).toISOString(),
      lat: 31.2, lon: 121.5, street: 'S1', attrs: { minutes: 3 } }));
  }
  return lines.join('\n');
}

// A receiver on 127.0.0.1 answering `fail` 500s first, then 200s.
async function receiver(fail = 0) {
  const got = [];
  let calls = 0;
  const srv = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => { body += d; });
    req.on('end', () => {
      calls++;
      if (calls <= fail) { res.writeHead(500); res.end('down'); return; }
      got.push(JSON.parse(body));
      res.writeHead(200); res.end('ok');
    });
  });
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  return { got, calls: () => calls, url: `http://127.0.0.1:${srv.address().port}/hook`,
    close: () => new Promise((r) => srv.close(r)) };
}

// A port with nothing listening.
async function deadPort() {
  const s = createServer();
  await new Promise((r) => s.listen(0, '127.0.0.1', r));
  const port = s.address().port;
  await new Promise((r) => s.close(r));
  return `http://127.0.0.1:${port}/hook`;
}

const indicator = { id: 'calls_s', feed: 'events', filter: { source: '110' },
  measure: 'count', bucket: '1h', group: 'street' };

test('an indicator added through the API is back-filled and live', async () => {
  const srv = await startServer({ args: ['--indicator_grace_s', '0',
    '--indicator_scene_sample_s', '1', '--indicator_tick_ms', '200'] });
  try {
    await seedHouseholds(srv, 2);
    let r = await srv.req('POST', '/api/v1/events', { body: events(3, 'a') });
    assert.equal(r.status, 200, r.text);
    r = await srv.req('GET', '/api/v1/indicators');
    assert.equal(r.status, 200);
    assert.ok(r.json.length >= 20, `default set: ${r.json.length}`);
    r = await srv.req('POST', '/api/v1/indicators',
        { body: JSON.stringify(indicator) });
    assert.equal(r.status, 201, r.text);
    r = await srv.req('POST', '/api/v1/indicators',
        { body: JSON.stringify(indicator) });
    assert.equal(r.status, 409);
    r = await srv.req('POST', '/api/v1/indicators',
        { body: JSON.stringify({ ...indicator, id: 'y', measure: 'median' }) });
    assert.equal(r.status, 400);
    assert.match(r.json.message, /measure 'median'/);
    const pts = await until('back-filled points', async () => {
      const s = await srv.req('GET', '/api/v1/indicators/calls_s/series?group=S1');
      return s.json.points.length ? s.json.points : null;
    });
    assert.equal(pts[0].value, 3);
    // the scenes' counts per street are sampled into their indicators
    for (const id of ['group_rental_suspects_street', 'elderly_alerts_street']) {
      const p = await until(`${id} points`, async () => {
        const x = await srv.req('GET',
            `/api/v1/indicators/${id}/series?group=${encodeURIComponent('陆家嘴街道')}`);
        return x.json.points.length ? x.json.points : null;
      });
      assert.equal(p[0].value, 0);
    }
    r = await srv.req('GET', '/api/v1/indicators/nope/series');
    assert.equal(r.status, 404);
  } finally { await srv.stop(); srv.cleanup(); }
});

test('notifications still queued at a clean stop go to the dead letters', async () => {
  const dead = await deadPort();
  const dir = mkdtempSync(join(tmpdir(), 'citybrain-alerts-'));
  // many retries a minute apart: the note is still queued when the server stops
  const args = ['--indicator_grace_s', '0', '--indicator_tick_ms', '100',
    '--alert_webhook_urls', dead, '--alert_webhook_retries', '50',
    '--alert_webhook_backoff_ms', '60000'];
  let srv = await startServer({ dir, args });
  try {
    await seedHouseholds(srv, 2);
    let r = await srv.req('POST', '/api/v1/events', { body: events(3, 'q') });
    assert.equal(r.status, 200, r.text);
    r = await srv.req('POST', '/api/v1/indicators', { body: JSON.stringify(indicator) });
    assert.equal(r.status, 201, r.text);
    r = await srv.req('POST', '/api/v1/alert-rules', { body: JSON.stringify({
      id: 'busy', indicator: 'calls_s', kind: 'threshold', op: '>', value: 2 }) });
    assert.equal(r.status, 201, r.text);
    await until('a failed delivery', async () => {
      const m = await srv.req('GET', '/metrics');
      return /citybrain_notifications_failed_total [1-9]/.test(m.text);
    });
    r = await srv.req('GET', '/api/v1/notifications/dead-letters');
    assert.equal(r.json.length, 0, 'not dead yet: 50 retries left');
    await srv.stop();
    srv = await startServer({ dir, args: ['--indicator_grace_s', '0'] });
    r = await srv.req('GET', '/api/v1/notifications/dead-letters');
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.length, 1, r.text);
    assert.equal(r.json[0].url, dead);
    assert.equal(r.json[0].reason, 'not delivered before the server stopped');
    assert.equal(r.json[0].payload.status, 'firing');
    assert.equal(r.json[0].payload.alerts[0].labels.alertname, 'busy');
  } finally {
    await srv.stop(); rmSync(dir, { recursive: true, force: true });
  }
});

test('rules fire, notify with retries and dead letters, resolve, and survive a restart', async () => {
  const flaky = await receiver(2);
  const dead = await deadPort();
  const dir = mkdtempSync(join(tmpdir(), 'citybrain-alerts-'));
  const args = ['--indicator_grace_s', '0', '--indicator_tick_ms', '100',
    '--alert_webhook_urls', `${flaky.url},${dead}`,
    '--alert_webhook_retries', '3', '--alert_webhook_backoff_ms', '50'];
  let srv = await startServer({ dir, args });
  try {
    await seedHouseholds(srv, 2);
    let r = await srv.req('POST', '/api/v1/events', { body: events(3, 'b') });
    assert.equal(r.status, 200, r.text);
    r = await srv.req('POST', '/api/v1/indicators', { body: JSON.stringify(indicator) });
    assert.equal(r.status, 201, r.text);
    const rule = { id: 'busy', indicator: 'calls_s', kind: 'threshold',
      op: '>', value: 2, severity: 'critical' };
    r = await srv.req('POST', '/api/v1/alert-rules', { body: JSON.stringify(rule) });
    assert.equal(r.status, 201, r.text);
    r = await srv.req('POST', '/api/v1/alert-rules',
        { body: JSON.stringify({ ...rule, kind: 'sometimes' }) });
    assert.equal(r.status, 400);
    const firing = await until('a firing alert', async () => {
      const a = await srv.req('GET', '/api/v1/alerts?state=firing');
      return a.json.length ? a.json : null;
    });
    assert.equal(firing.length, 1);
    assert.equal(firing[0].subject, 'S1');
    // the flaky receiver gets it on the third try
    await until('the webhook after retries', () => flaky.got.length >= 1);
    assert.ok(flaky.calls() >= 3);
    const msg = flaky.got[0];
    assert.equal(msg.version, '4');
    assert.equal(msg.status, 'firing');
    assert.equal(msg.alerts[0].labels.alertname, 'busy');
    assert.equal(msg.alerts[0].labels.subject, 'S1');
    assert.equal(msg.alerts[0].annotations.value, '3');
    assert.ok(msg.groupKey && msg.alerts[0].startsAt);
    assert.doesNotMatch(JSON.stringify(msg), /H000000/);
    // the dead receiver's copy ends in the dead letters
    const letters = await until('a dead letter', async () => {
      const d = await srv.req('GET', '/api/v1/notifications/dead-letters');
      return d.json.length ? d.json : null;
    });
    assert.equal(letters[0].url, dead);
    assert.equal(letters[0].attempts, 4);
    assert.equal(letters[0].reason, 'retries exhausted');
    // the live stream carries the alert and the indicator's buckets
    const live = await srv.req('GET', '/api/v1/stream?last_event_id=0&drain=1');
    assert.equal(live.status, 200, live.text);
    const evs = live.text.split('\n\n').map((b) => {
      const ev = {};
      for (const l of b.split('\n')) {
        if (l.startsWith('event:')) ev.event = l.slice(6).trim();
        if (l.startsWith('data:')) ev.data = JSON.parse(l.slice(5));
      }
      return ev;
    });
    const fired = evs.find((e) => e.event === 'alert' &&
        e.data.state === 'firing' && e.data.rule === 'busy');
    assert.ok(fired, `no alert event in ${live.text.slice(0, 2000)}`);
    assert.equal(fired.data.id, firing[0].id);
    assert.ok(evs.some((e) => e.event === 'indicator' &&
        e.data.indicator === 'calls_s' && e.data.value === 3));
    const one = await srv.req('GET', `/api/v1/alerts/${firing[0].id}`);
    assert.equal(one.status, 200);
    assert.equal(one.json.state, 'firing');
    // restart: the same alert is open, not a second one
    await srv.stop();
    srv = await startServer({ dir, args });
    await sleep(500);
    r = await srv.req('GET', '/api/v1/alerts?state=firing');
    assert.equal(r.json.length, 1);
    assert.equal(r.json[0].id, firing[0].id);
    // raising the threshold resolves it, and the receiver hears so
    r = await srv.req('POST', '/api/v1/alert-rules',
        { body: JSON.stringify({ ...rule, value: 100 }) });
    assert.equal(r.status, 201);
    await until('the resolved webhook', () =>
      flaky.got.some((m) => m.status === 'resolved'));
    r = await until('the stored alert resolved', async () => {
      const x = await srv.req('GET', `/api/v1/alerts/${firing[0].id}`);
      return x.json.state === 'resolved' ? x : null;
    });
    r = await srv.req('GET', '/api/v1/alerts?state=firing');
    assert.equal(r.json.length, 0);
    r = await srv.req('GET', '/metrics');
    assert.match(r.text, /citybrain_alerts\{state="firing"\} 0/);
    assert.match(r.text, /citybrain_indicators \d+/);
  } finally {
    await srv.stop(); await flaky.close(); rmSync(dir, { recursive: true, force: true });
  }
});

test('/metrics: every family has HELP and TYPE; promtool check metrics passes', async (t) => {
  const srv = await startServer();
  try {
    await srv.req('GET', '/api/v1/indicators');
    const text = (await srv.req('GET', '/metrics')).text;
    const names = new Set();
    for (const line of text.split('\n')) {
      if (!line || line.startsWith('#')) continue;
      names.add(line.split(/[{ ]/)[0].replace(/_(bucket|sum|count)$/, ''));
    }
    for (const n of names) {
      const base = text.includes(`# TYPE ${n} `) ? n : null;
      assert.ok(base, `no TYPE for ${n}`);
      assert.match(text, new RegExp(`# HELP ${n} \\S`), `no HELP for ${n}`);
    }
    assert.match(text, /# HELP citybrain_alerts /);
    if (!existsSync('/usr/bin/promtool')) {
      t.diagnostic('promtool is not installed: only the HELP/TYPE check ran');
      return;
    }
    const p = spawn('/usr/bin/promtool', ['check', 'metrics'],
        { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d) => { out += d; });
    p.stderr.on('data', (d) => { out += d; });
    p.stdin.end(text);
    const code = await new Promise((r) => p.on('exit', r));
    assert.equal(code, 0, `promtool check metrics:\n${out}`);
  } finally { await srv.stop(); srv.cleanup(); }
});

function alertmanagerBin() {
  for (const b of ['/usr/bin/prometheus-alertmanager', '/usr/bin/alertmanager'])
    if (existsSync(b)) return b;
  return null;
}

test('alerts reach a real Alertmanager and resolve there', async (t) => {
  const bin = alertmanagerBin();
  if (!bin) {
    t.skip('prometheus-alertmanager is not installed (scripts/deps.sh installs it)');
    return;
  }
  const amDir = mkdtempSync(join(tmpdir(), 'citybrain-am-'));
  const portProbe = createServer();
  await new Promise((r) => portProbe.listen(0, '127.0.0.1', r));
  const amPort = portProbe.address().port;
  await new Promise((r) => portProbe.close(r));
  writeFileSync(join(amDir, 'am.yml'),
      'route:\n  receiver: none\nreceivers:\n  - name: none\n');
  const am = spawn(bin, [`--config.file=${join(amDir, 'am.yml')}`,
    `--storage.path=${join(amDir, 'data')}`,
    `--web.listen-address=127.0.0.1:${amPort}`,
    '--cluster.listen-address=', '--log.level=warn'], { stdio: 'ignore' });
  const amUrl = `http://127.0.0.1:${amPort}`;
  const srv = await startServer({ args: ['--indicator_grace_s', '0',
    '--indicator_tick_ms', '100', '--alertmanager_url', amUrl,
    '--alert_webhook_backoff_ms', '200'] });
  try {
    await until('alertmanager up', async () => {
      try { return (await fetch(`${amUrl}/-/ready`)).ok; } catch { return false; }
    });
    await srv.req('POST', '/api/v1/events', { body: events(3, 'c') });
    await srv.req('POST', '/api/v1/indicators', { body: JSON.stringify(indicator) });
    const rule = { id: 'am_busy', indicator: 'calls_s', kind: 'threshold',
      value: 2 };
    await srv.req('POST', '/api/v1/alert-rules', { body: JSON.stringify(rule) });
    const active = await until('the alert in Alertmanager', async () => {
      const a = await (await fetch(`${amUrl}/api/v2/alerts?active=true`)).json();
      return a.find((x) => x.labels.alertname === 'am_busy');
    }, 30000);
    assert.equal(active.labels.subject, 'S1');
    await srv.req('POST', '/api/v1/alert-rules',
        { body: JSON.stringify({ ...rule, value: 100 }) });
    await until('resolved in Alertmanager', async () => {
      const a = await (await fetch(`${amUrl}/api/v2/alerts`)).json();
      const x = a.find((y) => y.labels.alertname === 'am_busy');
      return !x || x.status.state !== 'active' || Date.parse(x.endsAt) <= Date.now();
    }, 30000);
  } finally {
    await srv.stop(); srv.cleanup();
    // Alertmanager writes its state as it stops: wait before removing it
    const exited = am.exitCode !== null ? Promise.resolve()
      : new Promise((r) => am.once('exit', r));
    am.kill('SIGTERM');
    await Promise.race([exited, sleep(10000)]);
    rmSync(amDir, { recursive: true, force: true, maxRetries: 5 });
  }
});
