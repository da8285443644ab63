// citybrain's screens: the wall (operators, analysts, admins), the
// committee's phone page, a department's page, and the login.  Plain
// script, no framework; ECharts draws the map and charts.  Every figure
// comes from the API with the session cookie, and the server filters what
// each role may see; live updates come over SSE (/api/v1/stream).
'use strict';

const I18N = {
  zh: {
    title: '城市大脑 · 运行指挥中心', login: '登录', token: '访问令牌',
    loginHint: '输入令牌登录（令牌只用于换取会话，不会保存在浏览器中）',
    badToken: '令牌无效或已撤销', logout: '退出',
    live: '实时', offline: '离线', asOf: '数据截至', loadingHistory: '正在回填历史数据…',
    vitals: '城市体征', readings: '表计读数', deliveries: '外卖订单',
    events: '部门事件', matchRate: '地址匹配率', suspects: '群租嫌疑',
    elderly: '独居老人告警', map: '辖区地图', shadeBy: '着色',
    perThousand: '群租嫌疑/千户', elderlyAlerts: '独居老人告警',
    eventCount: '事件数', heat: '事件热力',
    feed: '实时动态', freshness: '各部门数据新鲜度', feedName: '数据源',
    records: '累计', lastBatch: '最近一批', byStreet: '各街道群租与独居告警',
    street: '街道', pipeline: '案件流程', evaluation: '中心评估',
    precision: '走访确认率', visits: '走访', indicators: '指标与告警',
    topSuspects: '重点嫌疑户', score: '评分', occupants: '估计人数',
    limit: '法定上限', reason: '查看原因（将记入审计）', open: '查看', cancel: '取消',
    household: '住户', evidence: '证据', peerBand: '同类住户区间',
    ingest: '数据入库', scene: '研判更新', accepted: '新增', duplicates: '重复',
    rejected: '拒收', none: '暂无',
    tasks: '我的任务', navigate: '导航', feedback: '反馈', outcome: '走访结果',
    confirmed: '确认群租', not_found: '未发现', no_access: '无法入户',
    headcount: '现场人数', photo: '现场照片', submit: '提交',
    photoNote: '此嫌疑户尚未立案：仅提交走访结果；照片随案件任务上传。', notes: '情况说明',
    caseTask: '案件任务', photoTooBig: '照片超过 5 MB', uploading: '正在上传照片…',
    denied: '本角色不可查看', overdue: '超时', urgentFirst: '最紧急优先', nearestFirst: '最近优先',
    newTasks: '新任务', reload: '点击刷新',
    sent: '已提交，谢谢', elderlyTask: '独居老人用水异常', rentalTask: '群租嫌疑',
    quietHours: '已静默', hours: '小时', dept: '部门数据页',
    deptNote: '本页显示本部门各数据源的入库情况（实时）。拒收原因与地址匹配率的历史统计待接入。',
    noTasks: '暂无任务',
  },
  en: {
    title: 'City Brain · Operations Centre', login: 'Sign in', token: 'Access token',
    loginHint: 'Sign in with a token (it is exchanged for a session and not kept by the browser)',
    badToken: 'The token is unknown or revoked', logout: 'Sign out',
    live: 'Live', offline: 'Offline', asOf: 'Data as of', loadingHistory: 'Loading history…',
    vitals: 'Vital signs', readings: 'Meter readings', deliveries: 'Delivery orders',
    events: 'Department events', matchRate: 'Address match rate',
    suspects: 'Group-rental suspects', elderly: 'Elderly alerts', map: 'District map',
    shadeBy: 'Shade by', perThousand: 'Suspects per 1,000', elderlyAlerts: 'Elderly alerts',
    eventCount: 'Events', heat: 'Event heat',
    feed: 'Live feed', freshness: 'Feed freshness by department', feedName: 'Feed',
    records: 'Total', lastBatch: 'Last batch', byStreet: 'Group rentals and elderly alerts by street',
    street: 'Street', pipeline: 'Case pipeline', evaluation: "Centre's evaluation",
    precision: 'Visit precision', visits: 'Visits', indicators: 'Indicators and alerts',
    topSuspects: 'Top suspects', score: 'Score', occupants: 'Estimated',
    limit: 'Legal limit', reason: 'Reason for viewing (audited)', open: 'Open', cancel: 'Cancel',
    household: 'Household', evidence: 'Evidence', peerBand: 'Peer band',
    ingest: 'Ingest', scene: 'Re-score', accepted: 'new', duplicates: 'duplicates',
    rejected: 'rejected', none: 'None',
    tasks: 'My tasks', navigate: 'Navigate', feedback: 'Feedback', outcome: 'Outcome',
    confirmed: 'Confirmed', not_found: 'Not found', no_access: 'No access',
    headcount: 'People seen', photo: 'Photo', submit: 'Submit',
    photoNote: 'No case is open for this suspect: the visit outcome is sent; photos go with case tasks.',
    notes: 'Notes', caseTask: 'Case task', photoTooBig: 'The photo is over 5 MB',
    uploading: 'Uploading photos…', denied: 'Not shown to this role', overdue: 'overdue',
    urgentFirst: 'Most urgent first', nearestFirst: 'Nearest first',
    newTasks: 'New tasks', reload: 'tap to refresh',
    sent: 'Sent, thank you', elderlyTask: 'Elderly resident: water stopped', rentalTask: 'Group-rental suspect',
    quietHours: 'quiet for', hours: 'h', dept: 'Department page',
    deptNote: "This page shows your department's batches as they arrive. Reject reasons and match-rate history are not yet available.",
    noTasks: 'No tasks',
  },
};
for (const l of Object.keys(I18N)) Object.assign(I18N[l], DESK_I18N[l]);
const params = new URLSearchParams(location.search);
let lang = params.get('lang') || localStorage.getItem('cb.lang') || 'zh';
const t = (k) => I18N[lang][k] ?? k;
const $ = (sel, root = document) => root.querySelector(sel);
const esc = (s) => String(s ?? '').replace(/[&<>"']/g, (c) =>
  ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
const fmt = (n) => (n == null ? '–' : Number(n).toLocaleString(
    lang === 'zh' ? 'zh-CN' : 'en-US'));
// For tests and benchmarks: what was drawn, when.
window.__cb = { drawn: [], ready: false };
let me = null; // the signed-in token: name, role (and committee)
// ECharts (1 MB) loads beside the API calls, not before them: panels of
// text draw as their data arrives, charts once it is there.
const chartsReady = new Promise((resolve, reject) => {
  const s = document.createElement('script');
  s.src = '/assets/echarts.min.js';
  s.onload = resolve;
  s.onerror = () => reject(new Error('cannot load /assets/echarts.min.js'));
  document.head.appendChild(s);
});

// raw: a Blob sent as it is (a photo), with its own type.
async function api(path, { method = 'GET', body, reason, raw } = {}) {
  const headers = { 'X-Requested-With': 'citybrain' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (raw) headers['Content-Type'] = raw.type || 'application/octet-stream';
  if (reason) headers['X-Audit-Reason'] = reason;
  const res = await fetch(path, { method, headers, credentials: 'same-origin',
    body: raw || (body === undefined ? undefined : JSON.stringify(body)) });
  const text = await res.text();
  let json;
  try { json = text ? JSON.parse(text) : null; } catch { json = null; }
  if (!res.ok) {
    const err = new Error(json?.message || `${res.status}`);
    err.status = res.status;
    throw err;
  }
  return json;
}

function setLang(l) {
  lang = l;
  wall.feedItems = []; // rebuilt in the new language
  localStorage.setItem('cb.lang', l);
  document.documentElement.lang = l === 'zh' ? 'zh-CN' : 'en';
  boot();
}

function langButtons() {
  return `<span class="langs"><button data-lang="zh" class="${lang === 'zh' ? 'on' : ''}">中文</button>
    <button data-lang="en" class="${lang === 'en' ? 'on' : ''}">EN</button></span>`;
}
function bindLang(root) {
  root.querySelectorAll('[data-lang]').forEach((b) =>
    b.addEventListener('click', () => setLang(b.dataset.lang)));
}

// ---- login ----

function showLogin(message) {
  const app = $('#app');
  app.innerHTML = `<form class="login" id="login">
    <h1>${esc(t('title'))}</h1><p>${esc(t('loginHint'))}</p>
    <input id="token" type="password" autocomplete="off" placeholder="${esc(t('token'))}">
    <button class="btn" type="submit">${esc(t('login'))}</button> ${langButtons()}
    <p class="error" id="login-error">${esc(message || '')}</p></form>`;
  bindLang(app);
  $('#login').addEventListener('submit', async (e) => {
    e.preventDefault();
    try {
      await api('/api/v1/session', { method: 'POST',
        body: { token: $('#token').value.trim() } });
      boot();
    } catch { $('#login-error').textContent = t('badToken'); }
  });
}

// ---- live stream ----

let stream;
function connectStream(onEvent, onState) {
  if (stream) stream.close();
  // ?hello=1: the server greets at once (with the ingest counts for
  // staff), so the screen is live before any batch arrives
  stream = new EventSource('/api/v1/stream?hello=1');
  stream.onopen = () => onState(true);
  stream.onerror = () => onState(false); // EventSource reconnects itself
  for (const type of ['hello', 'ingest', 'scene', 'alert', 'case', 'reset', 'bye'])
    stream.addEventListener(type, (m) => {
      let data = null;
      try { data = JSON.parse(m.data); } catch { /* keep null */ }
      onEvent(type, data, m.lastEventId);
    });
}

// ---- the wall ----

const wall = { charts: {}, stats: null, summary: null, elderly: null,
  events: [], feedItems: [], spark: {}, lastBatch: {}, shade: 'suspects' };

function wallLayout() {
  return `<div class="wall" data-view="wall">
  <header><h1>${esc(t('title'))}</h1>
    <span class="live" id="live"><i></i><span>${esc(t('offline'))}</span></span>
    <span class="asof" id="asof"></span><span id="history"></span>
    <span class="spacer"></span><span class="clock" id="clock"></span>
    ${langButtons()}<button class="btn" id="logout">${esc(t('logout'))}</button></header>
  <div class="col">
    <section class="panel"><h2>${esc(t('vitals'))}</h2><div class="tiles" id="tiles"></div></section>
    <section class="panel grow"><h2>${esc(t('freshness'))}</h2><div id="freshness"></div></section>
    <section class="panel"><h2>${esc(t('evaluation'))}</h2><div id="evaluation"></div></section>
  </div>
  <div class="col">
    <section class="panel grow"><h2>${esc(t('map'))}
      <small class="mapbar">${esc(t('shadeBy'))}
      <select id="shade"><option value="suspects">${esc(t('perThousand'))}</option>
      <option value="elderly">${esc(t('elderlyAlerts'))}</option>
      <option value="events">${esc(t('eventCount'))}</option></select></small></h2>
      <div class="map" id="map"></div></section>
    <section class="panel" style="height:30%"><h2>${esc(t('byStreet'))}</h2>
      <div class="map" id="bystreet"></div></section>
  </div>
  <div class="col">
    <section class="panel grow"><h2>${esc(t('feed'))}<small id="feedcount"></small></h2>
      <ul class="feed" id="feed"></ul></section>
    <section class="panel"><h2>${esc(t('topSuspects'))}</h2><div id="top"></div></section>
    <section class="panel"><h2>${esc(t('indicators'))}<small><a href="#" id="indicators-link">${
      esc(t('series'))}</a></small></h2><div id="alerts"></div></section>
    <section class="panel"><h2>${esc(t('pipeline'))}</h2><div id="pipeline"></div></section>
  </div></div>`;
}

function tile(key, label, value, lit) {
  const hist = wall.spark[key] || (wall.spark[key] = []);
  if (typeof value === 'number' && hist[hist.length - 1] !== value) {
    hist.push(value);
    if (hist.length > 60) hist.shift();
  }
  return `<div class="tile ${lit ? 'lit' : ''}" data-tile="${key}">
    <div class="k">${esc(label)}</div>
    <div class="v" data-figure="${key}">${typeof value === 'number' && value < 1 && key === 'match'
      ? (value * 100).toFixed(1) + '%' : fmt(value)}</div>
    <div class="spark" id="spark-${key}"></div></div>`;
}

function drawTiles() {
  const s = wall.stats || {};
  // a panel the role may not read shows '–', not 0
  const suspects = wall.summary ? wall.summary.groups.reduce((a, g) => a + g.suspects, 0)
    : undefined;
  const alerts = wall.elderly?.alerts?.length;
  $('#tiles').innerHTML = [
    tile('readings', t('readings'), s.readings),
    tile('deliveries', t('deliveries'), s.deliveries),
    tile('events', t('events'), s.events),
    tile('match', t('matchRate'), s.address_match_rate,
        s.address_match_rate != null && s.address_match_rate < 0.95),
    tile('suspects', t('suspects'), suspects, suspects > 0),
    tile('elderly', t('elderly'), alerts, alerts > 0),
  ].join('');
  for (const key of Object.keys(wall.spark)) {
    const el = $(`#spark-${key}`);
    if (!el || !window.echarts) continue;
    const c = echarts.init(el, null, { renderer: 'canvas' });
    c.setOption({ animation: false, grid: { left: 0, right: 0, top: 2, bottom: 2 },
      xAxis: { type: 'category', show: false, data: wall.spark[key].map((_, i) => i) },
      yAxis: { type: 'value', show: false, scale: true },
      series: [{ type: 'line', data: wall.spark[key], symbol: 'none',
        lineStyle: { width: 1.5, color: '#3fb8ff' }, areaStyle: { opacity: .15 } }] });
  }
}

function ago(iso) {
  if (!iso) return '–';
  const s = Math.max(0, (Date.now() - Date.parse(iso)) / 1000);
  if (s < 90) return `${Math.round(s)}s`;
  if (s < 5400) return `${Math.round(s / 60)}m`;
  if (s < 172800) return `${Math.round(s / 3600)}h`;
  return `${Math.round(s / 86400)}d`;
}

function drawFreshness() {
  const s = wall.stats || {};
  const rows = ['registry', 'readings', 'deliveries', 'events'].map((feed) => {
    const b = wall.lastBatch[feed];
    const total = feed === 'registry' ? s.households : s[feed];
    const age = b ? ago(b.at) : '–';
    const stale = b && Date.now() - Date.parse(b.at) > 3600e3;
    return `<tr data-feed="${feed}"><td>${esc(feed)}</td>
      <td class="n" data-figure="feed-${feed}">${fmt(total)}</td>
      <td class="n ${b ? (stale ? 'stale' : 'fresh') : ''}">${esc(age)}</td>
      <td>${b?.newest ? esc(b.newest.slice(5, 16).replace('T', ' ')) : '–'}</td></tr>`;
  });
  const bySource = Object.entries(s.address_match_rate_by_source || {}).map(
      ([src, r]) => `<tr><td>${esc(src)}</td><td class="n" colspan="3">${t('matchRate')}
        ${(r * 100).toFixed(1)}%</td></tr>`);
  $('#freshness').innerHTML = `<table><tr><th>${esc(t('feedName'))}</th>
    <th>${esc(t('records'))}</th><th>${esc(t('lastBatch'))}</th><th>${esc(t('asOf'))}</th></tr>
    ${rows.join('')}${bySource.join('')}</table>`;
}

function streetRows() {
  const by = new Map();
  for (const g of wall.summary?.groups || [])
    by.set(g.street, { street: g.street, suspects: g.suspects,
      per1000: g.per_1000, households: g.households, elderly: 0, events: 0 });
  const row = (name) => by.get(name) || by.set(name, { street: name, suspects: 0,
    per1000: 0, households: 0, elderly: 0, events: 0 }).get(name);
  for (const a of wall.elderly?.alerts || []) row(a.street).elderly++;
  for (const e of wall.events) if (e.street) row(e.street).events++;
  return [...by.values()];
}

function drawMap() {
  const el = $('#map');
  if (!el || !wall.geo) return;
  let chart = wall.charts.map;
  if (!chart) {
    chart = wall.charts.map = echarts.init(el);
    chart.on('click', (p) => { if (p.seriesType === 'map' && p.name) drillStreet(p.name); });
    chart.on('georoam', () => { // re-cluster for the new view, once it settles
      if (!wall.roaming) { // off while the map moves, back once it settles:
        wall.roaming = true; // the heat layer (redrawn whole each frame) and
        chart.setOption({ series: [{ id: 'heat', data: [] }, // the clusters'
          { id: 'clusters', label: { show: false }, silent: true }] }); // labels
      }
      wall.roamGen = (wall.roamGen || 0) + 1;
      clearTimeout(wall.roamTimer);
      wall.roamTimer = setTimeout(reCluster, 250);
    });
  }
  const was = chart.getOption()?.geo?.[0]; // keep the operator's pan and zoom
  const rows = streetRows();
  const value = (r) => wall.shade === 'elderly' ? r.elderly
    : wall.shade === 'events' ? r.events : r.per1000;
  const max = Math.max(1e-9, ...rows.map(value));
  const clusters = clusterData();
  const points = wall.events.filter((e) => e.lat != null)
      .map((e) => ({ name: e.type, value: [e.lon, e.lat, 1] }));
  chart.setOption({
    animation: false,
    tooltip: { trigger: 'item', textStyle: { fontSize: px(14) } },
    geo: { map: 'district', roam: true, center: was?.center, zoom: was?.zoom ?? 1,
      itemStyle: { areaColor: '#10224a',
      borderColor: '#3fb8ff', borderWidth: px(.6) }, label: { show: true,
      color: '#9fb3e6', fontSize: px(10) }, emphasis: { label: { color: '#fff' } } },
    visualMap: [{ min: 0, max, seriesIndex: 0, orient: 'horizontal', left: px(10),
      bottom: px(10), itemWidth: px(20), itemHeight: px(140), calculable: true,
      textStyle: { color: '#9fb3e6', fontSize: px(12) },
      inRange: { color: ['#10224a', '#1f5fa8', '#ffb020', '#ff4d5e'] } },
    { min: 0, max: 3, seriesIndex: 1, show: false,
      inRange: { color: ['rgba(255,176,32,0)', 'rgba(255,176,32,.5)',
        'rgba(255,77,94,.8)'] } }],
    series: [
      { type: 'map', geoIndex: 0, name: wall.shade,
        data: rows.map((r) => ({ name: r.street, value: value(r) })) },
      { type: 'heatmap', coordinateSystem: 'geo', name: t('heat'), id: 'heat',
        data: points.map((p) => p.value), pointSize: px(8), blurSize: px(14) },
      { type: 'scatter', coordinateSystem: 'geo', name: t('events'),
        data: points, symbolSize: px(5), itemStyle: { color: '#ffb020' },
        large: true, largeThreshold: 200 }, // one batched path, not one shape a point
      // suspects and elderly alerts, clustered by the server
      { type: 'scatter', coordinateSystem: 'geo', name: 'clusters', id: 'clusters',
        data: clusters, symbolSize: (v) => px(10 + 5 * Math.sqrt(v[2])),
        label: { show: true, formatter: (p) => p.value[2], color: '#fff',
          fontSize: px(10) },
        itemStyle: { color: (p) => (p.data.elderly ? '#ff8a00' : '#ff4d5e'),
          borderColor: '#fff', borderWidth: 1, opacity: .9 } },
    ],
  }, true);
  window.__cb.mapElements = (wall.geo?.features?.length || 0) + 2 * points.length +
    clusters.length;
}

// The view the map shows now, as the clustering endpoint's zoom (a 64-pixel
// cell) and box, clipped to the district.
function visibleView() {
  const chart = wall.charts.map;
  const ext = districtView();
  if (!chart || !ext) return null;
  const w = chart.getWidth(), h = chart.getHeight();
  const a = chart.convertFromPixel({ geoIndex: 0 }, [0, 0]);
  const b = chart.convertFromPixel({ geoIndex: 0 }, [w, h]);
  if (!a || !b) return null;
  const degPerPx = Math.abs(b[0] - a[0]) / w;
  const zoom = Math.max(0, Math.min(22, Math.floor(Math.log2(90 / (64 * degPerPx)))));
  const [W, S, E, N] = ext.bbox.split(',').map(Number);
  const box = [Math.max(W, Math.min(a[0], b[0])), Math.max(S, Math.min(a[1], b[1])),
    Math.min(E, Math.max(a[0], b[0])), Math.min(N, Math.max(a[1], b[1]))];
  if (box[0] >= box[2] || box[1] >= box[3]) return null;
  return { zoom, bbox: box.map((x) => x.toFixed(6)).join(',') };
}

// Chart text and marks in the page's scale: the root font follows the
// viewport (app.css), 15 px on a 1920-wide wall, twice that on 4K; ECharts
// sizes are in pixels, so they are scaled alike to stay readable.
function px(n) {
  const root = parseFloat(getComputedStyle(document.documentElement).fontSize) || 15;
  return Math.round(n * Math.max(1, root / 15) * 10) / 10;
}

// The server's clusters as the map's markers: one element per cell.
function clusterData() {
  return (wall.clusters?.clusters || []).map((c) => ({
    name: `${t('suspects')} ${c.suspects} · ${t('elderly')} ${c.elderly}`,
    value: [c.lon, c.lat, c.count], elderly: c.elderly }));
}

function heatData() {
  return wall.events.filter((e) => e.lat != null).map((e) => [e.lon, e.lat, 1]);
}

async function reCluster() {
  const v = visibleView();
  const gen = wall.roamGen;
  let clusters = wall.clusters;
  try {
    if (v) {
      clusters = await api(`/api/v1/map/clusters?zoom=${v.zoom}&bbox=${v.bbox}`);
      wall.clusterView = v;
    }
  } catch { /* a box too large for the zoom (413): keep what is drawn */ }
  if (gen !== wall.roamGen) return; // moved again meanwhile: its own turn comes
  wall.clusters = clusters;
  // only these series change: a merge of them, not a redraw of the map
  const settled = [{ id: 'clusters', data: clusterData(), label: { show: true },
    silent: false }];
  if (wall.roaming) {
    wall.roaming = false;
    settled.push({ id: 'heat', data: heatData() });
  }
  wall.charts.map?.setOption({ series: settled });
}

function drawByStreet() {
  const el = $('#bystreet');
  if (!el) return;
  const chart = wall.charts.bystreet || (wall.charts.bystreet = echarts.init(el));
  const rows = streetRows().sort((a, b) => (b.suspects + b.elderly) -
      (a.suspects + a.elderly)).slice(0, 14);
  chart.setOption({ animation: false,
    legend: { textStyle: { color: '#9fb3e6', fontSize: px(12) }, top: 0,
      itemWidth: px(25), itemHeight: px(14) },
    grid: { left: px(40), right: px(10), top: px(26), bottom: px(40) },
    tooltip: { trigger: 'axis', textStyle: { fontSize: px(14) } },
    xAxis: { type: 'category', data: rows.map((r) => r.street),
      axisLabel: { color: '#9fb3e6', rotate: 30, fontSize: px(10) } },
    yAxis: { type: 'value', axisLabel: { color: '#9fb3e6', fontSize: px(12) },
      splitLine: { lineStyle: { color: '#14234a' } } },
    series: [
      { name: t('suspects'), type: 'bar', data: rows.map((r) => r.suspects),
        itemStyle: { color: '#ff4d5e' } },
      { name: t('elderly'), type: 'bar', data: rows.map((r) => r.elderly),
        itemStyle: { color: '#ffb020' } }] }, true);
}

function drawFeed() {
  const items = wall.feedItems.slice(0, 40);
  $('#feed').innerHTML = items.length ? items.map((i) => `<li class="${i.fresh ? 'new' : ''}"
      data-kind="${esc(i.kind)}"><time>${esc(i.time)}</time>
      <span class="tag ${i.tag || ''}">${esc(i.label)}</span><span>${esc(i.text)}</span></li>`).join('')
    : `<li class="empty">${esc(t('none'))}</li>`;
  items.forEach((i) => { i.fresh = false; });
  $('#feedcount').textContent = fmt(wall.feedItems.length);
}

function drawTop() {
  const rows = (wall.top || []).slice(0, 6);
  $('#top').innerHTML = rows.length ? `<table><tr><th>${esc(t('household'))}</th>
    <th>${esc(t('street'))}</th><th>${esc(t('score'))}</th><th>${esc(t('occupants'))}</th></tr>
    ${rows.map((s) => `<tr class="clickable" data-household="${esc(s.household_id)}">
      <td>${esc(s.household_id)}</td><td>${esc(s.street)}</td>
      <td class="n">${s.score.toFixed(2)}</td>
      <td class="n">${s.estimated_occupants} / ${s.legal_limit}</td>
      <td>${may(CASE_MAKERS) ? `<button class="btn" data-open-case>${esc(t('openCase'))}</button>`
        : ''}</td></tr>`).join('')}</table>`
    : `<div class="empty">${esc(t(wall.top === null ? 'denied' : 'none'))}</div>`;
  $('#top').querySelectorAll('[data-household]').forEach((tr) => {
    tr.addEventListener('click', () => drillHousehold(tr.dataset.household));
    $('[data-open-case]', tr)?.addEventListener('click', (e) => {
      e.stopPropagation();
      openCaseFor('group_rental', tr.dataset.household)
          .catch((err) => flash(tr.closest('table'), err.message));
    });
  });
}

function drawEvaluation() {
  const p = wall.precision;
  $('#evaluation').innerHTML = p ? `<table>
    <tr><td>${esc(t('precision'))}</td><td class="n" data-figure="precision">${p.precision == null ? '–'
      : (p.precision * 100).toFixed(0) + '%'}</td></tr>
    <tr><td>${esc(t('visits'))}</td><td class="n">${fmt(p.visits)}</td></tr></table>` : '';
}

function drawHeader() {
  const asOf = wall.summary?.as_of || wall.elderly?.as_of;
  $('#asof').textContent = asOf ? `${t('asOf')} ${asOf.slice(0, 16).replace('T', ' ')}` : '';
  // back-filling: batches arrive while the data is still far behind
  const arriving = Object.values(wall.lastBatch).some((b) =>
    Date.now() - Date.parse(b.at) < 10e3);
  const behind = arriving && asOf && Date.now() - Date.parse(asOf) > 36 * 3600e3;
  $('#history').innerHTML = behind
    ? `<span class="banner" data-state="loading-history">${esc(t('loadingHistory'))}</span>` : '';
}

// The panels, each drawn from its own data; charts wait for ECharts.
const PANELS = {
  header: () => drawHeader(), tiles: () => drawTiles(), freshness: () => drawFreshness(),
  map: () => drawMap(), bystreet: () => drawByStreet(), feed: () => drawFeed(),
  top: () => drawTop(), evaluation: () => drawEvaluation(), alerts: () => drawAlerts(),
  pipeline: () => drawPipeline(),
};
const CHARTS = new Set(['map', 'bystreet']);
function drawPanel(name) {
  if (!$('[data-view="wall"]')) return;
  if (CHARTS.has(name) && !window.echarts) {
    chartsReady.then(() => drawPanel(name), () => {});
    return;
  }
  PANELS[name]();
}

function drawWall() {
  for (const name of Object.keys(PANELS)) drawPanel(name);
}

// A read a role may not make (403) leaves its panel saying so: null.
const orDenied = (p) => p.catch((e) => { if (e.status === 403) return null; throw e; });

// Loads every panel's data; with progressive, draws each panel as soon as
// its own data is in (the first load), instead of once at the end.
async function loadWall(progressive = false) {
  const R = { reason: 'wall screen' };
  const part = (promise, key, panels) => promise.then((v) => {
    wall[key] = v;
    if (progressive) panels.forEach(drawPanel);
  });
  await Promise.all([
    part(orDenied(api('/api/v1/stats/ingest')), 'stats', ['tiles', 'freshness']),
    part(orDenied(api('/api/v1/scenes/group-rental/summary?by=street', R)), 'summary',
        ['tiles', 'header']),
    part(orDenied(api('/api/v1/scenes/elderly-alone/alerts', R)), 'elderly', ['tiles']),
    part(api('/api/v1/events?limit=500', R).catch(() => []), 'events', []),
    part(orDenied(api('/api/v1/scenes/group-rental/suspects?limit=20', R))
        .then((x) => x && x.suspects), 'top', ['top']),
    part(orDenied(api('/api/v1/scenes/group-rental/precision')), 'precision', ['evaluation']),
    part(loadAlerts().then(() => wall.alerts), 'alerts', ['alerts']),
    part(loadCases().then(() => wall.cases), 'cases', ['pipeline']),
    (async () => {
      if (!wall.geo) {
        const geo = await orDenied(api('/api/v1/map/boundaries'));
        if (geo) {
          await chartsReady;
          echarts.registerMap('district', geo);
          wall.geo = geo;
        }
      }
      wall.clusters = await loadClusters();
    })(),
  ]);
  if (!wall.feedItems.length) {
    for (const e of (wall.events || []).slice(0, 30))
      wall.feedItems.push({ kind: 'event', time: e.ts.slice(11, 16),
        label: e.source, text: `${e.type} · ${e.street || ''}` });
    for (const a of (wall.elderly?.alerts || []).slice(0, 10))
      wall.feedItems.unshift({ kind: 'elderly', time: a.quiet_since.slice(11, 16),
        label: t('elderly'), tag: 'bad', text: `${a.street} ${a.committee}` });
  }
}

// The district's extent (from its polygons) and a zoom that gives about a
// dozen cells across it.
function districtView() {
  let w = 180, s = 90, e = -180, n = -90;
  const walk = (c) => (typeof c[0] === 'number'
    ? (w = Math.min(w, c[0]), e = Math.max(e, c[0]),
      s = Math.min(s, c[1]), n = Math.max(n, c[1])) : c.forEach(walk));
  for (const f of wall.geo?.features || []) walk(f.geometry.coordinates);
  if (w >= e) return null;
  const zoom = Math.max(0, Math.min(22, Math.floor(Math.log2(90 * 12 / (e - w)))));
  return { zoom, bbox: [w, s, e + 1e-9, n + 1e-9].map((x) => x.toFixed(6)).join(',') };
}

async function loadClusters() {
  const v = wall.clusterView || districtView();
  if (!v) return null;
  return api(`/api/v1/map/clusters?zoom=${v.zoom}&bbox=${v.bbox}`).catch(() => null);
}

// Reloads the panels an event may have changed: 300 ms after the first
// event of a burst, and at most every 3 s while batches keep coming (each
// reload is a few audited reads; the event itself is drawn at once).
let refreshTimer = null, lastRefresh = 0;
function refreshSoon() {
  if (refreshTimer) return;
  refreshTimer = setTimeout(async () => {
    lastRefresh = Date.now();
    try { await loadWall(); drawWall(); } catch { /* next event retries */ }
    refreshTimer = null;
  }, Math.max(300, lastRefresh + 3000 - Date.now()));
}

function onWallEvent(type, data, id) {
  const now = new Date().toTimeString().slice(0, 8);
  if (type === 'hello' && data) {
    // the greeting at connect: the counts as they are, before any batch
    if (data.stats && !wall.stats) {
      wall.stats = data.stats;
      drawTiles();
      drawFreshness();
    }
  } else if (type === 'ingest' && data) {
    wall.lastBatch[data.feed] = { at: new Date().toISOString(), newest: data.newest };
    if (wall.stats) {
      const key = data.feed === 'registry' ? 'households' : data.feed;
      wall.stats[key] = (wall.stats[key] || 0) + data.accepted;
    }
    wall.feedItems.unshift({ kind: 'ingest', time: now, label: t('ingest'), fresh: true,
      text: `${data.feed} +${fmt(data.accepted)} ${t('accepted')}` +
        (data.duplicates ? ` · ${fmt(data.duplicates)} ${t('duplicates')}` : '') +
        (data.rejected ? ` · ${fmt(data.rejected)} ${t('rejected')}` : '') });
    drawHeader();
    drawTiles();
    drawFreshness();
    drawFeed();
    refreshSoon();
  } else if (type === 'scene' && data) {
    wall.feedItems.unshift({ kind: 'scene', time: now, label: t('scene'), tag: 'warn',
      fresh: true, text: `${t('suspects')} ${fmt(data.suspects)} · ${t('elderly')} ${fmt(data.elderly_alerts)}` });
    drawFeed();
    refreshSoon();
  } else if (type === 'alert' && data) {
    onAlertChanged(data);
    wall.feedItems.unshift({ kind: 'alert', time: now, label: t('alerts'), fresh: true,
      tag: data.state === 'firing' ? 'bad' : '',
      text: `${data.rule} · ${data.subject} · ${t(data.state)}` });
    drawFeed();
  } else if (type === 'case' && data) {
    // the event names no household: what the wall has of the case stays
    const old = (wall.cases || []).find((c) => c.id === data.id);
    onCaseChanged({ ...old, ...data });
    const step = data.step || {};
    wall.feedItems.unshift({ kind: 'case', time: now, label: t('cases'), fresh: true,
      tag: data.overdue ? 'bad' : '', text: `#${data.id} ${category(data.category)} · ` +
        `${stepLabel(step.action || '')} → ${t(data.state)} · ${step.who || ''}` });
    drawFeed();
  } else if (type === 'reset') {
    refreshSoon();
  }
  if (wall.feedItems.length > 200) wall.feedItems.length = 200;
  window.__cb.drawn.push({ id, type, at: performance.now(), wallclock: Date.now(), data });
}

async function showWall() {
  const app = $('#app');
  app.innerHTML = wallLayout();
  wall.charts = {};
  bindLang(app);
  $('#logout').addEventListener('click', logout);
  $('#shade').value = wall.shade;
  $('#shade').addEventListener('change', (e) => { wall.shade = e.target.value; drawMap(); });
  const tick = () => { const c = $('#clock'); if (c) c.textContent = new Date().toLocaleString(
      lang === 'zh' ? 'zh-CN' : 'en-GB'); };
  tick();
  setInterval(tick, 1000);
  window.addEventListener('resize', () => {
    Object.values(wall.charts).forEach((c) => c.resize());
    clearTimeout(wall.resizeTimer); // redrawn in the new scale once it settles
    wall.resizeTimer = setTimeout(() => ['map', 'bystreet'].forEach(drawPanel), 150);
  });
  // the stream opens while the panels load; an event that arrives first
  // updates what is there and schedules a reload
  connectStream(onWallEvent, (on) => {
    const l = $('#live');
    if (!l) return;
    l.classList.toggle('on', on);
    l.querySelector('span').textContent = on ? t('live') : t('offline');
    if (on && !window.__cb.liveAt) window.__cb.liveAt = performance.now();
  });
  $('#indicators-link').addEventListener('click', (e) => {
    e.preventDefault();
    drillIndicator(wall.alerts?.[0]?.indicator || 'events_by_source',
        wall.alerts?.[0]?.subject || '');
  });
  await loadWall(true);
  await chartsReady;
  drawWall();
  window.__cb.ready = true;
  window.__cb.readyAt = window.__cb.readyAt || performance.now();
}

// ---- household drill-down (audited, with a reason) ----

function drillHousehold(id) {
  const m = document.createElement('div');
  m.className = 'modal';
  m.innerHTML = `<div><h2>${esc(t('household'))} ${esc(id)}</h2>
    <label>${esc(t('reason'))}<input id="reason" required></label>
    <button class="btn" id="go">${esc(t('open'))}</button>
    <button class="btn" id="close">${esc(t('cancel'))}</button><div id="body"></div></div>`;
  document.body.appendChild(m);
  $('#close', m).addEventListener('click', () => m.remove());
  $('#go', m).addEventListener('click', async () => {
    const reason = $('#reason', m).value.trim();
    if (!reason) { $('#reason', m).focus(); return; }
    try {
      const ev = await api(`/api/v1/scenes/group-rental/households/${encodeURIComponent(id)}/evidence`,
          { reason });
      $('#body', m).innerHTML = `<p data-figure="drill-score">${esc(t('score'))} ${ev.score?.toFixed?.(2) ?? '–'}
        · ${esc(t('occupants'))} ${ev.estimated_occupants ?? '–'} · ${esc(t('limit'))} ${ev.legal_limit}</p>
        <ul>${(ev.reasons || []).map((r) => `<li>${esc(r)}</li>`).join('')}</ul>
        ${['water', 'electricity', 'gas'].map((k) => `<div class="chart" id="ch-${k}"></div>`).join('')}`;
      await chartsReady;
      for (const k of ['water', 'electricity', 'gas']) {
        const s = ev.series?.[k];
        if (!s) continue;
        const c = echarts.init($(`#ch-${k}`, m));
        const band = (name) => s[`peer_${name}`] || [];
        c.setOption({ animation: false, title: { text: `${k} (${s.unit})`,
          textStyle: { color: '#9fb3e6', fontSize: 12 } },
        tooltip: { trigger: 'axis' }, grid: { left: 50, right: 10, top: 30, bottom: 24 },
        xAxis: { type: 'category', data: ev.series.days, axisLabel: { color: '#9fb3e6' } },
        yAxis: { type: 'value', axisLabel: { color: '#9fb3e6' },
          splitLine: { lineStyle: { color: '#14234a' } } },
        series: [
          { name: 'p25', type: 'line', data: band('p25'), symbol: 'none',
            lineStyle: { opacity: 0 }, stack: 'band' },
          { name: t('peerBand'), type: 'line', symbol: 'none', stack: 'band',
            lineStyle: { opacity: 0 }, areaStyle: { color: 'rgba(63,184,255,.2)' },
            data: band('p75').map((v, i) => (v == null || band('p25')[i] == null ? null
              : v - band('p25')[i])) },
          { name: 'median', type: 'line', data: band('median'), symbol: 'none',
            lineStyle: { type: 'dashed', color: '#7f93c2' } },
          { name: id, type: 'line', data: s.value, symbol: 'none',
            lineStyle: { color: '#ff4d5e', width: 2 } }] });
      }
    } catch (e) { $('#body', m).innerHTML = `<p class="error">${esc(e.message)}</p>`; }
  });
}

// ---- the committee's phone page ----

async function showPhone(who) {
  const app = $('#app');
  app.innerHTML = `<div class="phone" data-view="phone"><header><h1>${esc(who.committee || who.name)}</h1>
    <span class="spacer"></span>${langButtons()}</header>
    <h2>${esc(t('tasks'))}<select id="sort"><option value="urgent">${esc(t('urgentFirst'))}</option>
      <option value="near">${esc(t('nearestFirst'))}</option></select></h2>
    <button class="banner" id="newtasks" hidden></button>
    <div id="tasks" class="loading">…</div></div>`;
  bindLang(app);
  const R = { reason: 'committee tasks' };
  const [cases, elderly, suspects] = await Promise.all([
    orDenied(api('/api/v1/tasks', R)).then((x) => x || []),
    orDenied(api('/api/v1/scenes/elderly-alone/alerts', R)).then((x) => x || { alerts: [] }),
    orDenied(api('/api/v1/scenes/group-rental/suspects?limit=100', R))
        .then((x) => x || { suspects: [] }),
  ]);
  const withCase = new Set(cases.map((c) => c.household_id).filter(Boolean));
  // most urgent first: elderly residents by hours of silence, then the
  // cases dispatched here (overdue first, then by deadline), then suspects
  const byDeadline = (a, b) => (b.overdue - a.overdue) ||
      String(a.deadline).localeCompare(String(b.deadline));
  const tasks = [
    ...elderly.alerts.sort((a, b) => b.hours - a.hours).map((a) => ({
      kind: 'elderly', id: a.household_id, urgent: true, title: t('elderlyTask'),
      detail: `${t('quietHours')} ${a.hours} ${t('hours')} · ${a.reason}` })),
    ...cases.sort(byDeadline).map((c) => ({ kind: 'case', id: c.household_id || '',
      caseId: c.case_id, urgent: !!c.overdue, lat: c.lat, lon: c.lon, address: c.address,
      title: `${t('caseTask')} #${c.case_id}`,
      detail: `${c.summary || c.category} · ${c.address || ''} · ${t('deadline')} ` +
        `${String(c.deadline || '').slice(5, 16).replace('T', ' ')}` +
        (c.overdue ? ` (${t('overdue')})` : '') })),
    ...suspects.suspects.filter((s) => !withCase.has(s.household_id)).map((s) => ({
      kind: 'rental', id: s.household_id, title: t('rentalTask'),
      detail: `${t('score')} ${s.score.toFixed(2)} · ` +
        `${t('occupants')} ${s.estimated_occupants} / ${t('limit')} ${s.legal_limit}` })),
  ];
  tasks.forEach((k, i) => { k.rank = i; });
  drawTasks(tasks);
  $('#sort').addEventListener('change', (e) => sortTasks(tasks, e.target.value));
  // a case dispatched here while the page is open: offered, not forced in
  // (a form being filled stays as it is)
  const known = new Set(cases.map((c) => c.case_id));
  const fresh = new Set();
  connectStream((type, data, id) => {
    if (type !== 'case' || !data || data.state !== 'dispatched' || known.has(data.id)) return;
    fresh.add(data.id);
    $('#newtasks').hidden = false;
    $('#newtasks').textContent = `${t('newTasks')} (${fresh.size}) · ${t('reload')}`;
    window.__cb.drawn.push({ id, type, at: performance.now(), wallclock: Date.now(), data });
  }, () => {});
  $('#newtasks').addEventListener('click', () => showPhone(who));
  window.__cb.ready = true;
  window.__cb.readyAt = window.__cb.readyAt || performance.now();
}

// Nearest first: the tasks with a position (cases) by distance from the
// phone, then the rest in their urgency order.  The position stays in the
// page; nothing is sent.
function sortTasks(tasks, how) {
  const byRank = (a, b) => a.rank - b.rank;
  if (how !== 'near' || !navigator.geolocation) { drawTasks(tasks.sort(byRank)); return; }
  navigator.geolocation.getCurrentPosition((pos) => {
    const { latitude: la, longitude: lo } = pos.coords;
    const d = (k) => (k.lat == null ? Infinity
      : Math.hypot((k.lon - lo) * Math.cos(la * Math.PI / 180), k.lat - la));
    drawTasks(tasks.sort((a, b) => (d(a) - d(b)) || byRank(a, b)));
  }, () => { $('#sort').value = 'urgent'; drawTasks(tasks.sort(byRank)); },
  { timeout: 10000, maximumAge: 60000 });
}

function drawTasks(tasks) {
  const box = $('#tasks');
  box.className = '';
  box.innerHTML = tasks.length ? tasks.map((k, i) => `<div class="task ${k.urgent ? 'urgent' : ''}"
      data-task="${esc(k.kind)}" data-household="${esc(k.id)}" data-i="${i}"
      ${k.caseId ? `data-case="${k.caseId}"` : ''}>
      <div class="t">${esc(k.title)}${k.id ? ` · ${esc(k.id)}` : ''}</div><div class="d">${esc(k.detail)}</div>
      <div class="acts"><a href="#" data-act="nav">${esc(t('navigate'))}</a>
      ${k.kind !== 'elderly' ? `<button data-act="feedback">${esc(t('feedback'))}</button>` : ''}</div>
      <div class="more"></div></div>`).join('')
    : `<div class="empty">${esc(t('noTasks'))}</div>`;
  box.querySelectorAll('[data-act="nav"]').forEach((a) => a.addEventListener('click', async (e) => {
    const card = a.closest('.task');
    if (a.dataset.href) return;
    e.preventDefault();
    let place = tasks[card.dataset.i];
    if (place.lat == null)
      place = await api(`/api/v1/households/${encodeURIComponent(card.dataset.household)}`,
          { reason: 'committee visit: where to go' });
    // phones' map apps use GCJ-02; citybrain stores WGS84
    const [lon, lat] = wgs84ToGcj02(place.lon, place.lat);
    a.href = `https://uri.amap.com/marker?position=${lon.toFixed(6)},${lat.toFixed(6)}` +
      `&name=${encodeURIComponent(place.address || '')}&coordinate=gaode`;
    a.dataset.href = '1';
    a.target = '_blank';
    a.textContent = `${t('navigate')}: ${place.address || ''}`;
  }));
  box.querySelectorAll('[data-act="feedback"]').forEach((b) => b.addEventListener('click', () => {
    const card = b.closest('.task');
    if (card.dataset.case) visitForm(card); else feedbackForm(card);
  }));
}

// A phone's photo, ready to send: as it is when small, else re-encoded as a
// JPEG of at most 2048 pixels a side (a phone camera's 4-8 MB would pass
// the server's 5 MB only sometimes, and slowly on a mobile network).
async function photoForUpload(file) {
  if (file.size <= 1.5e6 && /^image\/(jpeg|png)$/.test(file.type)) return file;
  const img = await createImageBitmap(file);
  const k = Math.min(1, 2048 / Math.max(img.width, img.height));
  const c = document.createElement('canvas');
  c.width = Math.round(img.width * k);
  c.height = Math.round(img.height * k);
  c.getContext('2d').drawImage(img, 0, 0, c.width, c.height);
  const blob = await new Promise((resolve) => c.toBlob(resolve, 'image/jpeg', 0.85));
  if (!blob || blob.size > 5 * 1024 * 1024) throw new Error(t('photoTooBig'));
  return blob;
}

// The visit of a case task: outcome, headcount, notes and photos.  The
// visit id is made once per form, so sending again (a dropped network)
// repeats the same visit instead of making a second one.
function visitForm(card) {
  const more = $('.more', card);
  const caseId = card.dataset.case;
  const visitId = `V-${caseId}-${Date.now().toString(36)}`;
  more.innerHTML = `<form data-visit="${esc(visitId)}"><label>${esc(t('outcome'))}<select name="outcome">
    ${['confirmed', 'not_found', 'no_access'].map((o) => `<option value="${o}">${esc(t(o))}</option>`).join('')}
    </select></label><label>${esc(t('headcount'))}<input name="headcount" type="number" min="0" max="99"></label>
    <label>${esc(t('notes'))}<input name="notes" maxlength="500"></label>
    <label>${esc(t('photo'))}<input name="photo" type="file" accept="image/jpeg,image/png"
      capture="environment" multiple></label><div class="previews"></div>
    <button type="submit">${esc(t('submit'))}</button><p class="result"></p></form>`;
  const form = $('form', more);
  form.photo.addEventListener('change', () => {
    $('.previews', form).innerHTML = '';
    for (const f of form.photo.files) {
      const img = document.createElement('img');
      img.className = 'preview';
      img.src = URL.createObjectURL(f);
      $('.previews', form).appendChild(img);
    }
  });
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const result = $('.result', form);
    const body = { visit_id: visitId, outcome: form.outcome.value };
    if (form.headcount.value !== '') body.headcount = Number(form.headcount.value);
    if (form.notes.value.trim()) body.notes = form.notes.value.trim();
    try {
      const photos = await Promise.all([...form.photo.files].map(photoForUpload));
      await api(`/api/v1/cases/${caseId}/visits`, { method: 'POST', body,
        reason: 'committee visit' });
      if (photos.length) result.textContent = t('uploading');
      for (const p of photos)
        await api(`/api/v1/cases/${caseId}/photos?visit_id=${encodeURIComponent(visitId)}`,
            { method: 'POST', raw: p, reason: 'committee visit' });
      result.innerHTML = `<span class="ok" data-photos="${photos.length}">${esc(t('sent'))}</span>`;
    } catch (err) { result.innerHTML = `<span class="error">${esc(err.message)}</span>`; }
  });
}

// The scene's feedback on a suspect that has no case yet.
function feedbackForm(card) {
  const more = $('.more', card);
  more.innerHTML = `<form><label>${esc(t('outcome'))}<select name="outcome">
    ${['confirmed', 'not_found', 'no_access'].map((o) => `<option value="${o}">${esc(t(o))}</option>`).join('')}
    </select></label><label>${esc(t('headcount'))}<input name="headcount" type="number" min="0" max="99"></label>
    <p class="d">${esc(t('photoNote'))}</p>
    <button type="submit">${esc(t('submit'))}</button><p class="result"></p></form>`;
  const form = $('form', more);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const body = { household_id: card.dataset.household, outcome: form.outcome.value };
    if (form.headcount.value !== '') body.headcount = Number(form.headcount.value);
    try {
      await api('/api/v1/scenes/group-rental/feedback', { method: 'POST', body });
      $('.result', form).innerHTML = `<span class="ok">${esc(t('sent'))}</span>`;
    } catch (err) { $('.result', form).innerHTML = `<span class="error">${esc(err.message)}</span>`; }
  });
}

// ---- a department's page ----

function showDept(who) {
  const app = $('#app');
  const rows = [];
  app.innerHTML = `<div class="phone" data-view="dept" style="max-width:900px">
    <header><h1>${esc(t('dept'))} · ${esc(who.name)}</h1><span class="spacer"></span>
    <span class="live" id="live"><i></i><span>${esc(t('offline'))}</span></span>${langButtons()}</header>
    <p class="d">${esc(t('deptNote'))}</p><table id="batches"></table></div>`;
  bindLang(app);
  const draw = () => {
    $('#batches').innerHTML = `<tr><th>${esc(t('feedName'))}</th><th>${esc(t('lastBatch'))}</th>
      <th>${esc(t('accepted'))}</th><th>${esc(t('duplicates'))}</th><th>${esc(t('rejected'))}</th>
      <th>${esc(t('asOf'))}</th></tr>` + rows.map((r) => `<tr><td>${esc(r.feed)}</td>
      <td>${esc(r.at)}</td><td class="n">${fmt(r.accepted)}</td><td class="n">${fmt(r.duplicates)}</td>
      <td class="n">${fmt(r.rejected)}</td><td>${esc(r.newest || '')}</td></tr>`).join('');
  };
  draw();
  connectStream((type, data, id) => {
    if (type !== 'ingest' || !data) return;
    rows.unshift({ ...data, at: new Date().toTimeString().slice(0, 8) });
    if (rows.length > 100) rows.length = 100;
    draw();
    window.__cb.drawn.push({ id, type, at: performance.now(), wallclock: Date.now(), data });
  }, (on) => $('#live')?.classList.toggle('on', on));
  window.__cb.ready = true;
  window.__cb.readyAt = window.__cb.readyAt || performance.now();
}

async function logout() {
  try { await api('/api/v1/session', { method: 'DELETE' }); } catch { /* gone anyway */ }
  if (stream) stream.close();
  showLogin();
}

async function boot() {
  window.__cb.ready = false; // until the new screen has drawn its figures
  document.documentElement.lang = lang === 'zh' ? 'zh-CN' : 'en';
  document.title = t('title');
  let who;
  try { who = await api('/api/v1/whoami'); } catch (e) {
    if (e.status === 401) { showLogin(); return; }
    throw e;
  }
  me = who;
  // a committee, or a department that handles cases: their tasks
  if (who.role === 'committee' || who.role === 'department') return showPhone(who);
  if (who.role === 'publisher') return showDept(who);
  return showWall();
}

boot().catch((e) => { $('#app').innerHTML = `<p class="error">${esc(e.message)}</p>`; });
