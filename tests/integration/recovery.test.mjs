// Restart recovery, and kill -9 during a sustained ingest: every record the
// server acknowledged is present after restart, and none is there twice.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, seedHouseholds, tempDir, sleep } from './lib.mjs';
import { rmSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

test('a clean restart keeps data, tokens and roll-ups', async () => {
  const dir = tempDir();
  let srv = await startServer({ dir });
  const [h1] = await seedHouseholds(srv, 1);
  const t0 = 1761926400;
  const body = [0, 3600, 7200].map((dt, i) =>
    `electricity,household=${h1} index=${100 + i} ${t0 + dt}`).join('\n');
  let r = await srv.req('POST', '/api/v1/write?precision=s', { body });
  assert.equal(r.json.accepted, 3);
  const admin = srv.admin;
  const stopped = await srv.stop();
  assert.equal(stopped.code, 0, 'SIGTERM stops cleanly with status 0');
  srv = await startServer({ dir });
  assert.equal(srv.admin, admin, 'the admin token survives a restart');
  r = await srv.req('POST', '/api/v1/write?precision=s', { body });
  assert.deepEqual(r.json, { accepted: 0, duplicates: 3 });
  r = await srv.req('GET',
      `/api/v1/households/${h1}/usage?from=2025-11-01&to=2025-11-01`);
  assert.ok(Math.abs(r.json[0].electricity - 2) < 1e-9, r.text);
  await srv.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('kill -9 during sustained ingest loses nothing acknowledged',
    { timeout: 120000 }, async () => {
  const dir = tempDir();
  let srv = await startServer({ dir });
  const households = await seedHouseholds(srv, 200);
  const acked = [];
  // Thirty days ago: inside the plausibility window of the wall clock.
  const base = Math.floor(Date.now() / 1000) - 30 * 86400;
  let stop = false, seq = 0;
  const writer = async (w) => {
    while (!stop) {
      const n = seq++;
      const lines = households.map((h) =>
        `gas,household=${h} delta=0.1 ${base + n * 4 + w}`).join('\n');
      try {
        const r = await srv.req('POST', '/api/v1/write?precision=s',
            { body: lines });
        if (r.status === 200) acked.push(lines);
      } catch { /* the connection died with the server */ }
    }
  };
  const writers = [0, 1, 2, 3].map(writer);
  await sleep(1500);
  await srv.kill9();
  stop = true;
  await Promise.all(writers);
  assert.ok(acked.length > 5, `only ${acked.length} batches acknowledged`);

  srv = await startServer({ dir });
  for (const lines of acked) {
    const r = await srv.req('POST', '/api/v1/write?precision=s',
        { body: lines });
    assert.equal(r.status, 200);
    assert.equal(r.json.accepted, 0, 'an acknowledged record went missing');
    assert.equal(r.json.duplicates, households.length);
  }
  const r = await srv.req('GET',
      `/api/v1/households/${households[7]}/readings?metric=gas&limit=100000`);
  const ts = r.json.map((x) => x.ts);
  assert.equal(new Set(ts).size, ts.length, 'a reading is stored twice');
  assert.ok(ts.length >= acked.length);
  await srv.stop();
  rmSync(dir, { recursive: true, force: true });
});
