// SIGTERM under load: the requests in flight are finished, within the
// drain time (shutdown_drain_s), before the server exits.  Every request
// either got a complete answer or was never acknowledged, and no batch that
// got no answer was stored: the client could not know it was.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { startServer, seedHouseholds, tempDir, request } from './lib.mjs';

const LINES = 2000;

test('SIGTERM under load answers every batch it stored',
    { timeout: 180000 }, async () => {
  const dir = tempDir();
  let srv = await startServer({ dir,
    env: { CITYBRAIN_SHUTDOWN_DRAIN_S: '60' } });
  const households = await seedHouseholds(srv, 8);
  const base = Math.floor(Date.now() / 1000) - 20 * 86400;
  const outcomes = [];  // {h, first, status|null, json}
  let stopping = false;
  const client = async (c) => {
    const h = households[c];
    for (let j = 0; ; j++) {
      const first = base + j * LINES;
      const body = Array.from({ length: LINES }, (_, l) =>
        `electricity,household=${h} index=${j * LINES + l} ${first + l}`)
          .join('\n');
      const o = { h, first, status: null, json: undefined };
      try {
        const r = await request(srv.base, 'POST', '/api/v1/write?precision=s',
            { token: srv.admin, body });
        o.status = r.status;
        o.json = r.json;
      } catch { /* no answer: a refused or closed connection */ }
      outcomes.push(o);
      if (o.status === null && stopping) return;
      if (o.status === 503 && stopping) return;
    }
  };
  const clients = households.map((_, c) => client(c));
  // Load first: wait until every client has had batches stored.
  while (outcomes.filter((o) => o.status === 200).length < 4 * households.length)
    await new Promise((r) => setTimeout(r, 20));
  stopping = true;
  const exited = await srv.stop();
  await Promise.all(clients);
  assert.equal(exited.code, 0, 'SIGTERM stops cleanly with status 0');

  for (const o of outcomes) {
    if (o.status === null) continue;
    assert.ok(o.status === 200 || o.status === 503,
        `a complete answer is 200, or 503 while stopping; got ${o.status}`);
    if (o.status === 200)
      assert.equal(o.json.accepted + o.json.duplicates, LINES);
  }

  srv = await startServer({ dir });
  const stored = new Map();  // household -> Set of ts seconds
  for (const h of households) {
    const r = await srv.req('GET',
        `/api/v1/households/${h}/readings?limit=100000`);
    assert.equal(r.status, 200, r.text);
    stored.set(h, new Set(r.json.map((x) => Math.floor(x.ts_ns / 1e9))));
  }
  let answered = 0, unanswered = 0;
  for (const o of outcomes) {
    const have = stored.get(o.h);
    let n = 0;
    for (let l = 0; l < LINES; l++) n += have.has(o.first + l) ? 1 : 0;
    if (o.status === 200) {
      answered++;
      assert.equal(n, LINES, `an acknowledged batch of ${o.h} is stored`);
    } else {
      unanswered++;
      assert.equal(n, 0, `a batch of ${o.h} without a 200 (status ` +
          `${o.status}) was stored all the same`);
    }
  }
  assert.ok(answered > 0 && unanswered > 0, `${answered}/${unanswered}`);
  await srv.stop();
  rmSync(dir, { recursive: true, force: true });
});
