// Browser tests of the screens: playwright-core driving Debian's chromium
// (/usr/bin/chromium, headless) against the real server on a small
// simulated district (or the demo's: CB_BROWSER_DISTRICT below).
// Screenshots are kept in build/browser/ (the README's come from here, on
// the demo's district: `make readme-shots`), with the figures measured
// (metrics.json).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { deflateSync } from 'node:zlib';
import { mkdirSync, writeFileSync, readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { startServer, request, makeToken, tempDir, BIN, sleep }
  from '../integration/lib.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const shots = join(root, 'build', 'browser');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
mkdirSync(shots, { recursive: true });
const metrics = {};
// CB_BROWSER_DISTRICT=demo (scripts/readme-shots.sh): the district `make
// demo` simulates (50,000 households, seed 2026, its 60 days of history up
// to today, a file a day), for the README's pictures; otherwise a small
// one, so that `make test` stays quick.
const DEMO = process.env.CB_BROWSER_DISTRICT === 'demo';
const day = (d) => new Date(Date.now() + d * 86400000).toISOString().slice(0, 10);
const simulation = DEMO
  ? ['--households', '50000', '--days', '60', '--seed', '2026', '--start',
    day(-60), '--split-days']
  : ['--households', '1500', '--days', '8', '--seed', '7', '--start',
    '2026-11-20'];

let srv, browser, district, committee, taskCase;
before(async () => {
  district = tempDir('citybrain-browser-');
  execFileSync(BIN, ['simulate', ...simulation, '--water-grain', '1d',
    '--out', join(district, 'sim')], { stdio: 'ignore' });
  srv = await startServer({ args: ['--web_dir', join(root, 'web', 'dist'),
    '--sync', 'normal', '--indicator_tick_ms', '200'] });
  execFileSync(BIN, ['load', '--dir', join(district, 'sim'), '--url',
    srv.base, '--token-file', join(srv.dir, 'admin.token')],
  { stdio: 'ignore' });
  const geo = readFileSync(join(district, 'sim', 'streets.geojson'), 'utf8');
  const r = await srv.req('PUT', '/api/v1/map/boundaries', { body: geo });
  assert.equal(r.status, 200, r.text);
  // the scene has scored the loaded district
  for (let i = 0; i < (DEMO ? 600 : 100); i++) {
    const s = await srv.req('GET', '/api/v1/scenes/group-rental/suspects' +
        '?limit=1', { headers: { 'x-audit-reason': 'test' } });
    if (s.json?.suspects?.length) break;
    await sleep(100);
  }
  // the committee with the most suspects: one becomes its case task
  const per = new Map();
  for (const x of (await srv.req('GET', '/api/v1/scenes/group-rental/' +
      'suspects?limit=1000')).json.suspects)
    per.set(x.committee, (per.get(x.committee) || 0) + 1);
  committee = [...per].sort((a, b) => b[1] - a[1])[0]?.[0];
  assert.ok(committee && per.get(committee) >= 2,
      'no committee with two suspects to give tasks');
  // an alert for the desk: a rule that holds for every source
  const rule = await srv.req('POST', '/api/v1/alert-rules', { body:
    JSON.stringify({ id: 'browser_busy', indicator: 'events_by_source',
      kind: 'threshold', op: '>=', value: 0, severity: 'critical' }) });
  assert.equal(rule.status, 201, rule.text);
  // a case dispatched to the committee: its phone's task
  const mine = (await srv.req('GET', '/api/v1/scenes/group-rental/suspects' +
      `?limit=5&committee=${encodeURIComponent(committee)}`)).json.suspects;
  const c = await srv.req('POST', '/api/v1/cases', { body: JSON.stringify({
    category: 'group_rental', source_kind: 'group_rental',
    source_ref: mine[mine.length - 1].household_id }) });
  assert.equal(c.status, 201, c.text);
  for (const action of ['check', 'register', 'dispatch']) {
    const r = await srv.req('POST', `/api/v1/cases/${c.json.id}/transitions`,
        { body: JSON.stringify({ action }) });
    assert.equal(r.status, 200, r.text);
  }
  taskCase = c.json;
  for (let i = 0; i < 150; i++) {
    const a = await srv.req('GET', '/api/v1/alerts?limit=5');
    if (a.json?.some((x) => x.state !== 'resolved')) break;
    await sleep(100);
  }
  browser = await chromium.launch({ executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu'] });
});
after(async () => {
  await browser?.close();
  writeFileSync(join(shots, 'metrics.json'), JSON.stringify(metrics, null, 2));
  await srv?.stop();
  srv?.cleanup();
});

// A page signed in through a one-time login link of a new token.
async function signedIn(fields, viewport = { width: 1920, height: 1080 },
    deviceScaleFactor = 1, contextOptions = {}) {
  const link = await srv.req('POST', '/api/v1/login-links',
      { body: JSON.stringify(fields) });
  assert.equal(link.status, 201, link.text);
  const ctx = await browser.newContext({ viewport, deviceScaleFactor,
    ...contextOptions });
  const page = await ctx.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(srv.base + link.json.url);
  await page.waitForFunction(() => window.__cb?.ready, null,
      { timeout: 20000 });
  page.errors = errors;
  return page;
}

const figure = (page, key) => page.$eval(`[data-figure="${key}"]`,
    (el) => el.textContent.trim());
const num = (s) => Number(s.replace(/[^0-9.]/g, ''));

// A small RGB PNG (a door-coloured gradient), as a phone's camera would
// send one: zlib-compressed rows, each chunk with its CRC.
function pngImage(w, h) {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (buf) => {
    let c = 0xffffffff;
    for (const b of buf) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type, data) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const sum = Buffer.alloc(4);
    sum.writeUInt32BE(crc(body));
    return Buffer.concat([len, body, sum]);
  };
  const rows = Buffer.alloc((w * 3 + 1) * h);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const o = y * (w * 3 + 1) + 1 + x * 3;
      const door = x > w / 3 && x < (2 * w) / 3 && y > h / 6;
      rows[o] = door ? 120 + (y % 40) : 200 - y / 2;
      rows[o + 1] = door ? 70 : 190 - y / 2;
      rows[o + 2] = door ? 40 : 170;
    }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  return Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]),
    chunk('IHDR', ihdr), chunk('IDAT', deflateSync(rows)),
    chunk('IEND', Buffer.alloc(0))]);
}

test('the wall renders in Chinese and English, with the API\'s figures',
    async () => {
  const page = await signedIn({ name: 'wall', role: 'operator' });
  assert.match(await page.textContent('h1'), /城市大脑/);
  assert.match(await page.textContent('#pipeline'), /派遣/);
  const cases = (await srv.req('GET', '/api/v1/cases?limit=500')).json;
  assert.equal(num(await figure(page, 'cases-dispatched')),
      cases.filter((c) => c.state === 'dispatched').length);
  const stats = (await srv.req('GET', '/api/v1/stats/ingest')).json;
  const summary = (await srv.req('GET',
      '/api/v1/scenes/group-rental/summary?by=street')).json;
  const elderly = (await srv.req('GET',
      '/api/v1/scenes/elderly-alone/alerts')).json;
  assert.equal(num(await figure(page, 'readings')), stats.readings);
  assert.equal(num(await figure(page, 'deliveries')), stats.deliveries);
  assert.equal(num(await figure(page, 'events')), stats.events);
  assert.equal(num(await figure(page, 'feed-registry')), stats.households);
  assert.equal(num(await figure(page, 'suspects')),
      summary.groups.reduce((a, g) => a + g.suspects, 0));
  assert.equal(num(await figure(page, 'elderly')), elderly.alerts.length);
  // the map drew the uploaded streets
  const streets = await page.evaluate(() =>
    echarts.getInstanceByDom(document.getElementById('map'))
        .getOption().series[0].data.length);
  assert.ok(streets > 0);
  // the clustered markers count every suspect and elderly alert placed
  const clustered = await page.evaluate(() => echarts.getInstanceByDom(
      document.getElementById('map')).getOption().series[3].data
      .reduce((a, d) => a + d.value[2], 0));
  assert.equal(clustered, summary.groups.reduce((a, g) => a + g.suspects, 0) +
      elderly.alerts.length);
  await page.screenshot({ path: join(shots, 'wall-zh.png') });
  metrics.lcp_ms = await page.evaluate(() => new Promise((resolve) => {
    new PerformanceObserver((l) => {
      const e = l.getEntries();
      resolve(Math.round(e[e.length - 1].startTime));
    }).observe({ type: 'largest-contentful-paint', buffered: true });
  }));
  metrics.wall_ready_ms = await page.evaluate(() =>
    Math.round(window.__cb.readyAt));
  metrics.first_sse_event_drawn_ms = await page.evaluate(() =>
    Math.round(window.__cb.drawn[0]?.at ?? -1));
  await page.click('[data-lang="en"]');
  await page.waitForFunction(() => window.__cb?.ready &&
      document.querySelector('h1')?.textContent.includes('City Brain'));
  assert.equal(num(await figure(page, 'readings')), stats.readings);
  assert.ok(!/[\u4e00-\u9fff]{2,}告警/.test(await page.textContent('#feed')),
      'the feed is in English too');
  await page.screenshot({ path: join(shots, 'wall-en.png') });
  // the 4K wall: the same layout, scaled
  await page.setViewportSize({ width: 3840, height: 2160 });
  await sleep(300);
  await page.screenshot({ path: join(shots, 'wall-4k-en.png') });
  assert.deepEqual(page.errors, []);
  await page.context().close();
  // the README's picture: the same wall, 1280x720
  const small = await signedIn({ name: 'readme', role: 'operator' },
      { width: 1920, height: 1080 }, 2 / 3);
  await small.screenshot({ path: join(shots, 'readme-wall.png') });
  await small.context().close();
});

test('an ingest reaches the wall live, without a reload', async () => {
  const page = await signedIn({ name: 'wall-live', role: 'analyst' });
  await page.waitForSelector('#live.on');
  // an analyst sees the alerts, and no buttons it may not use
  await page.waitForSelector('#alerts [data-alert]');
  assert.equal(await page.$('#alerts [data-act="ack"]'), null);
  assert.equal(await page.$('#top [data-open-case]'), null);
  const before = num(await figure(page, 'readings'));
  const n0 = await page.evaluate(() => window.__cb.drawn.length);
  const sent = Date.now();
  const r = await srv.req('POST', '/api/v1/write?precision=s', { body:
    'water,household=H0000001 index=99999 1764800000\n' +
    'water,household=H0000002 index=99999 1764800000' });
  assert.equal(r.status, 200, r.text);
  await page.waitForFunction((n) => window.__cb.drawn.slice(n).some(
      (d) => d.type === 'ingest' && d.data.feed === 'readings'), n0);
  const drawn = await page.evaluate((n) => window.__cb.drawn.slice(n).find(
      (d) => d.type === 'ingest').wallclock, n0);
  metrics.ingest_to_screen_ms = drawn - sent;
  assert.equal(num(await figure(page, 'readings')), before + 2);
  assert.match(await page.textContent('#feed'), /readings \+2/);
  await page.context().close();
});

test('a household drill-down asks a reason and writes an audit record',
    async () => {
  const page = await signedIn({ name: 'desk', role: 'operator' });
  const row = await page.waitForSelector('#top [data-household]');
  const id = await row.getAttribute('data-household');
  await row.click();
  await page.click('.modal #go'); // no reason: nothing is fetched
  assert.equal(await page.$('.modal [data-figure="drill-score"]'), null);
  await page.fill('.modal #reason', 'check before visit 42');
  await page.click('.modal #go');
  await page.waitForSelector('.modal [data-figure="drill-score"]');
  await page.waitForSelector('.modal #ch-water canvas');
  await page.screenshot({ path: join(shots, 'drill-down.png') });
  await page.click('.modal #close');
  // a street: clicked on the map, its figures those of the API
  const summary = (await srv.req('GET',
      '/api/v1/scenes/group-rental/summary?by=street')).json;
  const street = summary.groups.sort((a, b) => b.suspects - a.suspects)[0];
  const at = await page.evaluate((name) => {
    const f = wall.geo.features.find((x) => x.properties.name === name);
    const ring = f.geometry.type === 'Polygon' ? f.geometry.coordinates[0]
      : f.geometry.coordinates[0][0];
    const c = ring.slice(1).reduce((a, p) => [a[0] + p[0], a[1] + p[1]], [0, 0])
        .map((v) => v / (ring.length - 1));
    return wall.charts.map.convertToPixel({ geoIndex: 0 }, c);
  }, street.street);
  const box = await (await page.$('#map')).boundingBox();
  await page.mouse.click(box.x + at[0], box.y + at[1]);
  await page.waitForSelector(`.modal[data-street-modal="${street.street}"]`);
  assert.equal(num(await figure(page, 'street-suspects')), street.suspects);
  await page.waitForSelector('.modal #street-series[data-points]');
  await page.screenshot({ path: join(shots, 'drill-street.png') });
  const audit = (await srv.req('GET', '/api/v1/audit?limit=20')).json;
  const rec = audit.find((a) => a.who === 'desk' &&
      a.object.includes(id) && a.reason === 'check before visit 42');
  assert.ok(rec, JSON.stringify(audit.slice(0, 5)));
  await page.context().close();
});

test('an operator acknowledges an alert and dispatches a case', async () => {
  const open = (await srv.req('GET', '/api/v1/alerts?limit=50')).json
      .filter((a) => a.state !== 'resolved');
  assert.ok(open.length, 'the rule raised no alert');
  const page = await signedIn({ name: 'desk-op', role: 'operator' });
  // the alert: acknowledged from the wall's alert panel
  // (clicks by selector: the panel is redrawn as alert events arrive)
  await page.click(`#alerts [data-alert="${open[0].id}"] [data-act="ack"]`);
  await page.waitForFunction((id) => document.querySelector(
      `#alerts [data-alert="${id}"] [data-alert-status]`)?.textContent
      .includes('desk-op'), open[0].id);
  let a = (await srv.req('GET', `/api/v1/alerts/${open[0].id}`)).json;
  assert.equal(a.acknowledged_by, 'desk-op');
  // assigned and commented in its drill-down, with its indicator's series
  await page.click(`#alerts [data-alert="${open[0].id}"] [data-act="open"]`);
  await page.waitForSelector('.modal #alert-series[data-points]');
  await page.fill('.modal input[name="to"]', '王班长');
  await page.click('.modal [data-act="assign"]');
  await page.waitForFunction(() => document.querySelector(
      '.modal [data-alert-state]')?.textContent.includes('王班长'));
  await page.fill('.modal textarea[name="text"]', '已电话联系水务');
  await page.click('.modal [data-act="comment"]');
  await page.waitForFunction(() => document.querySelector('.modal .comments')
      ?.textContent.includes('已电话联系水务'));
  a = (await srv.req('GET', `/api/v1/alerts/${open[0].id}`)).json;
  assert.equal(a.assignee, '王班长');
  assert.ok(a.comments.some((c) => c.text === '已电话联系水务'),
      JSON.stringify(a.comments));
  // silenced for two hours, with a reason
  await page.fill('.modal input[name="reason"]', '管道施工');
  await page.fill('.modal input[name="hours"]', '2');
  await page.click('.modal [data-act="silence"]');
  await page.waitForFunction(() => document.querySelector(
      '.modal [data-alert-state]')?.textContent.includes('已静默'));
  a = (await srv.req('GET', `/api/v1/alerts/${open[0].id}`)).json;
  assert.equal(a.suppress_reason, '管道施工');
  const left = Date.parse(a.suppressed_until) - Date.now();
  assert.ok(left > 1.5 * 3600e3 && left <= 2 * 3600e3 + 60e3, a.suppressed_until);
  await page.screenshot({ path: join(shots, 'desk-alert.png') });
  await page.click('.modal [data-close]');
  // a case from the top suspect: made by the operator...
  const top = await page.waitForSelector('#top [data-household]');
  const hid = await top.getAttribute('data-household');
  await (await top.$('[data-open-case]')).click();
  const modal = await page.waitForSelector('.modal[data-case-modal]');
  const id = Number(await modal.getAttribute('data-case-modal'));
  await page.waitForSelector('.modal [data-case-state="collected"]');
  // ...who may not move it: no step buttons for that role
  assert.equal(await page.$('.modal [data-step-action]'), null);
  await page.click('.modal [data-close]');
  const dispatched = num(await figure(page, 'cases-dispatched'));
  // ...then checked, registered and dispatched at the shift lead's desk
  const lead = await signedIn({ name: 'desk-lead', role: 'shift_lead' });
  await (await lead.waitForSelector(`#pipeline [data-case="${id}"]`)).click();
  for (const [action, state] of [['check', 'second_check'],
    ['register', 'registered'], ['dispatch', 'dispatched']]) {
    await lead.click(`.modal [data-step-action="${action}"]`);
    await lead.waitForSelector(`.modal [data-case-state="${state}"]`);
  }
  const c = (await srv.req('GET', `/api/v1/cases/${id}`)).json;
  assert.equal(c.state, 'dispatched');
  assert.equal(c.household_id, hid);
  assert.equal(c.unit, (await srv.req('GET', `/api/v1/households/${hid}`))
      .json.committee);
  assert.deepEqual(c.history.map((h) => h.who),
      ['desk-op', 'desk-lead', 'desk-lead', 'desk-lead']);
  assert.equal(await lead.$$eval('.modal [data-history]', (l) => l.length), 4);
  await lead.screenshot({ path: join(shots, 'desk-case.png') });
  await lead.click('.modal [data-close]');
  await lead.waitForFunction(() => Number(document.querySelector(
      '[data-figure="cases-dispatched"]')?.textContent) >= 2);
  assert.deepEqual(lead.errors, []);
  await lead.context().close();
  // the operator's wall followed live (case events), with no reload
  await page.waitForFunction((n) => Number(document.querySelector(
      '[data-figure="cases-dispatched"]')?.textContent) === n + 1, dispatched);
  assert.match(await page.textContent('#feed'), new RegExp(`#${id} .*派遣`));
  assert.deepEqual(page.errors, []);
  await page.context().close();
});

test('a committee sees its tasks and sends feedback with a photo',
    async () => {
  // the phone stands at the case's door
  const page = await signedIn({ name: 'phone', role: 'committee',
    committee }, { width: 390, height: 844 }, 1, { permissions:
    ['geolocation'], geolocation: { latitude: taskCase.lat,
    longitude: taskCase.lon } });
  await page.waitForSelector('[data-view="phone"]');
  await page.screenshot({ path: join(shots, 'phone.png') });
  // most urgent first: the elderly resident's silence before the case
  const order = () => page.$$eval('#tasks .task', (l) =>
    l.map((e) => e.dataset.task));
  const urgent = await order();
  if (urgent.includes('elderly'))
    assert.ok(urgent.indexOf('elderly') < urgent.indexOf('case'), urgent);
  await page.selectOption('#sort', 'near');
  await page.waitForFunction(() => document.querySelector('#tasks .task')
      ?.dataset.task === 'case');
  const tasks = await page.$$eval('[data-task]', (els) =>
    els.map((e) => e.dataset.household));
  const cmp = await makeToken(srv, { name: 'cmp', role: 'committee',
    committee });
  const mine = (await request(srv.base, 'GET',
      '/api/v1/scenes/group-rental/suspects?limit=100', { token: cmp }))
      .json.suspects.map((s) => s.household_id);
  for (const h of mine) assert.ok(tasks.includes(h), `${h} not a task`);
  const mine0 = mine;
  // the map's clusters: its own committee's markers only
  const alerts = (await request(srv.base, 'GET',
      '/api/v1/scenes/elderly-alone/alerts', { token: cmp })).json.alerts;
  const cl = (await request(srv.base, 'GET', '/api/v1/map/clusters' +
      '?zoom=10&bbox=121.4,31.0,122.0,31.4', { token: cmp })).json;
  assert.equal(cl.markers, mine.length + alerts.length);
  const all = (await srv.req('GET', '/api/v1/map/clusters' +
      '?zoom=10&bbox=121.4,31.0,122.0,31.4')).json;
  assert.ok(all.markers > cl.markers, `${all.markers} vs ${cl.markers}`);
  // where to go: the map link is in GCJ-02, not the stored WGS84
  const card = await page.$('[data-task="rental"]');
  const hid = await card.getAttribute('data-household');
  const h = (await srv.req('GET', `/api/v1/households/${hid}`)).json;
  await (await card.$('[data-act="nav"]')).click();
  await page.waitForFunction((el) => el.querySelector('[data-act="nav"]')
      .dataset.href, card);
  const href = await (await card.$('[data-act="nav"]')).getAttribute('href');
  const [lon, lat] = /position=([\d.]+),([\d.]+)/.exec(href).slice(1)
      .map(Number);
  const shift = Math.hypot((lon - h.lon) * 95000, (lat - h.lat) * 111000);
  assert.ok(shift > 100 && shift < 1000, `shifted ${shift} m`);
  // a suspect without a case: the scene's feedback
  await (await card.$('[data-act="feedback"]')).click();
  await page.selectOption('.task form select[name="outcome"]', 'no_access');
  await page.click('.task form button[type="submit"]');
  await page.waitForSelector('.task form .result .ok');
  const audit = (await srv.req('GET', '/api/v1/audit?limit=20')).json;
  assert.ok(audit.some((a) => a.who === 'phone' &&
      a.object.includes(hid) && /feedback/.test(a.action)),
  JSON.stringify(audit.slice(0, 5)));
  // the case dispatched to it: a visit with a photo from the camera
  const task = await page.$(`[data-task="case"][data-case="${taskCase.id}"]`);
  assert.ok(task, 'the dispatched case is a task');
  await (await task.$('[data-act="feedback"]')).click();
  await page.selectOption(`[data-case="${taskCase.id}"] select[name="outcome"]`,
      'confirmed');
  await page.fill(`[data-case="${taskCase.id}"] input[name="headcount"]`, '9');
  await page.fill(`[data-case="${taskCase.id}"] input[name="notes"]`,
      '门口鞋很多 / many shoes at the door');
  const photo = pngImage(160, 120);
  await page.setInputFiles(`[data-case="${taskCase.id}"] input[name="photo"]`,
      { name: 'door.png', mimeType: 'image/png', buffer: photo });
  await page.waitForSelector(`[data-case="${taskCase.id}"] img.preview`);
  await page.click(`[data-case="${taskCase.id}"] button[type="submit"]`);
  await page.waitForSelector(`[data-case="${taskCase.id}"] .result .ok,` +
      ` [data-case="${taskCase.id}"] .result .error`);
  assert.equal(await page.textContent(`[data-case="${taskCase.id}"] .result`),
      '已提交，谢谢');
  await page.screenshot({ path: join(shots, 'phone-visit.png') });
  // a case dispatched to it now: offered live, then in the list
  const taken = new Set((await srv.req('GET', '/api/v1/cases?limit=500'))
      .json.map((c) => c.household_id));
  const other = mine0.find((x) => !taken.has(x));
  let n = await srv.req('POST', '/api/v1/cases', { body: JSON.stringify({
    category: 'group_rental', source_kind: 'group_rental',
    source_ref: other }) });
  assert.equal(n.status, 201, n.text);
  for (const action of ['check', 'register', 'dispatch'])
    await srv.req('POST', `/api/v1/cases/${n.json.id}/transitions`,
        { body: JSON.stringify({ action }) });
  await page.waitForSelector('#newtasks:not([hidden])');
  await page.click('#newtasks');
  await page.waitForSelector(`[data-task="case"][data-case="${n.json.id}"]`);
  const done = (await srv.req('GET', `/api/v1/cases/${taskCase.id}`)).json;
  assert.equal(done.state, 'fed_back', JSON.stringify(done.history));
  const photos = (await srv.req('GET',
      `/api/v1/cases/${taskCase.id}/photos`)).json;
  assert.equal(photos.length, 1, JSON.stringify(photos));
  const got = await fetch(`${srv.base}/api/v1/photos/${photos[0].id}`,
      { headers: { authorization: `Bearer ${srv.admin}` } });
  assert.equal(got.status, 200);
  assert.ok(Buffer.from(await got.arrayBuffer()).equals(photo),
      'the stored photo is the one sent');
  assert.deepEqual(page.errors, []);
  await page.context().close();
  // the supervisor's desk: the case's photo, then verified and closed
  const desk = await signedIn({ name: 'desk-sup', role: 'supervisor' });
  await (await desk.waitForSelector(`#pipeline [data-case="${taskCase.id}"]`))
      .click();
  await desk.waitForFunction(() => [...document.querySelectorAll(
      '.modal .photos img')].some((i) => i.complete && i.naturalWidth === 160));
  await desk.screenshot({ path: join(shots, 'desk-photo.png') });
  await desk.click('.modal [data-step-action="verify"]');
  await desk.waitForSelector('.modal [data-case-state="closed"]');
  assert.equal((await srv.req('GET', `/api/v1/cases/${taskCase.id}`)).json
      .state, 'closed');
  assert.deepEqual(desk.errors, []);
  await desk.context().close();
});

test('a department that handles cases gets its tasks, not the wall',
    async () => {
  let r = await srv.req('POST', '/api/v1/departments',
      { body: JSON.stringify({ name: 'sanitation', feeds: [] }) });
  assert.equal(r.status, 201, r.text);
  // garbage goes to sanitation (case_routes' default)
  r = await srv.req('POST', '/api/v1/cases', { body: JSON.stringify({
    category: 'garbage', source_kind: 'event', source_ref: 'e-browser-1',
    lat: taskCase.lat, lon: taskCase.lon }) });
  assert.equal(r.status, 201, r.text);
  const id = r.json.id;
  for (const action of ['check', 'register', 'dispatch']) {
    r = await srv.req('POST', `/api/v1/cases/${id}/transitions`,
        { body: JSON.stringify({ action }) });
    assert.equal(r.status, 200, r.text);
  }
  assert.equal(r.json.unit, 'sanitation');
  const page = await signedIn({ name: '环卫-赵', role: 'department',
    department: 'sanitation' }, { width: 390, height: 844 });
  await page.waitForSelector(`[data-view="phone"] [data-task="case"]` +
      `[data-case="${id}"]`);
  assert.equal(await page.$('[data-view="wall"]'), null);
  assert.deepEqual(await page.$$eval('[data-task]', (l) =>
    l.map((e) => e.dataset.case)), [String(id)], 'its own case only');
  assert.deepEqual(page.errors, []);
  await page.context().close();
});

test('a committee can reach neither the wall nor its data', async () => {
  const page = await signedIn({ name: 'phone2', role: 'committee',
    committee }, { width: 390, height: 844 });
  assert.equal(await page.$('[data-view="wall"]'), null);
  const status = await page.evaluate(async () => {
    const get = async (p) => (await fetch(p)).status;
    return {
      audit: await get('/api/v1/audit'),
      byStreet: await get('/api/v1/scenes/group-rental/summary?by=street'),
      tokens: await get('/api/v1/tokens'),
    };
  });
  assert.equal(status.audit, 403);
  assert.equal(status.byStreet, 403);
  assert.equal(status.tokens, 403);
  // the staff's live events never reach a committee's browser
  await page.evaluate(() => new Promise((resolve) => {
    window.__got = [];
    const es = new EventSource('/api/v1/stream');
    for (const t of ['ingest', 'scene'])
      es.addEventListener(t, () => window.__got.push(t));
    es.onopen = resolve;
  }));
  const published = async () => Number(/citybrain_live_events_total (\d+)/
      .exec((await request(srv.base, 'GET', '/metrics')).text)[1]);
  const p0 = await published();
  const w = await srv.req('POST', '/api/v1/write?precision=s', { body:
    'water,household=H0000003 index=99999 1764800000' });
  assert.equal(w.status, 200);
  for (let i = 0; i < 50 && await published() === p0; i++) await sleep(50);
  assert.ok(await published() > p0, 'no event was published');
  await sleep(500);
  assert.deepEqual(await page.evaluate(() => window.__got), []);
  await page.context().close();
});
