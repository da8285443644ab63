// The operator's desk, on the wall itself: the alerts (acknowledge, assign,
// comment, silence), the case pipeline (create from a suspect, check,
// register, dispatch, verify, close: the buttons a case's `allowed` steps
// give the signed-in role) and the drill-downs of a street, an indicator
// and a case.  Loaded before app.js; uses its helpers (t, api, esc, $, fmt,
// wall, me) when called.  Every write goes to the API, which decides what
// the role may do: a 403 is shown, never hidden.
'use strict';

const DESK_I18N = {
  zh: {
    alerts: '告警', severity: '级别', rule: '规则', subject: '对象', value: '数值',
    state: '状态', firing: '告警中', pending: '待定', resolved: '已恢复',
    acknowledge: '确认', acknowledged: '已确认', assign: '指派', assignee: '处理人',
    comment: '备注', silence: '静默', silenced: '已静默', until: '至', handle: '处置',
    silenceHours: '静默时长（小时）', silenceReason: '静默原因', save: '保存',
    comments: '备注记录', noAlerts: '暂无告警', alertsDenied: '本角色不可查看告警',
    cases: '案件', openCase: '立案', caseTimeline: '案件时间线', photos: '照片',
    noPhotos: '暂无照片', deadline: '时限', overdue: '超时', unit: '处置单位',
    stepReason: '处理说明', casesDenied: '本角色不可查看案件', noCases: '暂无案件',
    collected: '采集', second_check: '二次核查', registered: '立案',
    dispatched: '派遣', handled: '处置', fed_back: '反馈', closed: '结案',
    evaluated: '评价', void: '作废',
    check: '核查', register: '登记立案', dispatch: '派遣', handle_step: '处置',
    feed_back: '反馈', verify: '核查结案', rework: '返工', evaluate: '评价',
    reopen: '重开', void_step: '作废', indicator: '指标', anomaly: '异常',
    series: '序列', households: '户数', streetView: '街道', streetSuspects: '本街道嫌疑户',
    streetElderly: '本街道独居告警', done: '已完成', attempts: '走访次数',
    category: '类别', address: '地址', created: '创建',
    cat_group_rental: '群租', cat_elderly: '独居老人', cat_garbage: '垃圾', cat_noise: '噪音',
  },
  en: {
    alerts: 'Alerts', severity: 'Severity', rule: 'Rule', subject: 'Subject', value: 'Value',
    state: 'State', firing: 'firing', pending: 'pending', resolved: 'resolved',
    acknowledge: 'Acknowledge', acknowledged: 'acknowledged', assign: 'Assign',
    assignee: 'Assignee', comment: 'Comment', silence: 'Silence', silenced: 'silenced',
    until: 'until', handle: 'Handle', silenceHours: 'Silence for (hours)',
    silenceReason: 'Reason for silencing', save: 'Save', comments: 'Comments',
    noAlerts: 'No alerts', alertsDenied: 'Alerts are not shown to this role',
    cases: 'Cases', openCase: 'Open case', caseTimeline: 'Timeline', photos: 'Photos',
    noPhotos: 'No photos', deadline: 'Deadline', overdue: 'overdue', unit: 'Handled by',
    stepReason: 'Note for this step', casesDenied: 'Cases are not shown to this role',
    noCases: 'No cases',
    collected: 'Collected', second_check: 'Second check', registered: 'Registered',
    dispatched: 'Dispatched', handled: 'Handled', fed_back: 'Fed back', closed: 'Closed',
    evaluated: 'Evaluated', void: 'Void',
    check: 'Check', register: 'Register', dispatch: 'Dispatch', handle_step: 'Handle',
    feed_back: 'Feed back', verify: 'Verify and close', rework: 'Rework',
    evaluate: 'Evaluate', reopen: 'Reopen', void_step: 'Void', indicator: 'Indicator',
    anomaly: 'anomaly', series: 'Series', households: 'Households', streetView: 'Street',
    streetSuspects: 'Suspects in this street', streetElderly: 'Elderly alerts in this street',
    done: 'Done', attempts: 'Attempts', category: 'Category', address: 'Address',
    created: 'Created', cat_group_rental: 'Group rental', cat_elderly: 'Elderly resident',
    cat_garbage: 'Garbage', cat_noise: 'Noise',
  },
};

// Who may act (docs/API.md's role table; the server decides, these only
// spare a role buttons that would answer 403).
const ALERT_ACTORS = ['admin', 'operator', 'shift_lead', 'dispatcher'];
const CASE_MAKERS = ['admin', 'operator', 'supervisor', 'call_taker', 'shift_lead'];
const may = (roles) => roles.includes(me?.role);
const PIPELINE = ['collected', 'second_check', 'registered', 'dispatched', 'handled',
  'fed_back', 'closed'];
// an action's label: a few share their name with a state
const stepLabel = (a) => t(a === 'handle' || a === 'void' ? `${a}_step` : a);
const category = (c) => (I18N[lang][`cat_${c}`] ? t(`cat_${c}`) : c);
const caseTitle = (c) => c.title || `${category(c.category)}${c.address ? ` · ${c.address}` : ''}`;
const when = (iso) => (iso ? String(iso).slice(5, 16).replace('T', ' ') : '–');

function modal(title) {
  const m = document.createElement('div');
  m.className = 'modal';
  m.innerHTML = `<div><h2>${esc(title)}<button class="btn x" data-close>×</button></h2>
    <div class="body"></div></div>`;
  document.body.appendChild(m);
  $('[data-close]', m).addEventListener('click', () => m.remove());
  return { m, body: $('.body', m) };
}

// ---- alerts ----

async function loadAlerts() {
  try {
    const all = await api('/api/v1/alerts?limit=200');
    wall.alerts = all.filter((a) => a.state !== 'resolved');
  } catch (e) {
    if (e.status === 403) wall.alerts = null; else throw e;
  }
}

function alertStatus(a) {
  const bits = [t(a.state)];
  if (a.acknowledged_by) bits.push(`${t('acknowledged')} ${a.acknowledged_by}`);
  if (a.assignee) bits.push(`→ ${a.assignee}`);
  if (a.silenced || (a.suppressed_until && Date.parse(a.suppressed_until) > Date.now()))
    bits.push(t('silenced'));
  return bits.join(' · ');
}

function drawAlerts() {
  const box = $('#alerts');
  if (!box) return;
  if (wall.alerts === null) {
    box.innerHTML = `<div class="empty">${esc(t('alertsDenied'))}</div>`;
    return;
  }
  const rows = (wall.alerts || []).slice(0, 8);
  box.innerHTML = rows.length ? `<table>${rows.map((a) => `<tr data-alert="${esc(a.id)}"
      class="sev-${esc(a.severity)} ${a.acknowledged_by ? 'acked' : ''}">
      <td><span class="tag ${a.state === 'firing' ? 'bad' : 'warn'}">${esc(a.severity)}</span></td>
      <td class="clip">${esc(a.rule)} · ${esc(a.subject)}</td>
      <td class="n">${esc(typeof a.value === 'number' ? +a.value.toFixed(2) : a.value ?? '–')}</td>
      <td class="clip status" data-alert-status>${esc(alertStatus(a))}</td>
      <td class="acts">${a.acknowledged_by || !may(ALERT_ACTORS) ? ''
        : `<button class="btn" data-act="ack">${esc(t('acknowledge'))}</button>`}
      <button class="btn" data-act="open">${esc(t('handle'))}</button></td></tr>`).join('')}</table>`
    : `<div class="empty">${esc(t('noAlerts'))}</div>`;
  box.querySelectorAll('[data-alert]').forEach((tr) => {
    const a = wall.alerts.find((x) => String(x.id) === tr.dataset.alert);
    tr.querySelector('[data-act="ack"]')?.addEventListener('click', () =>
      alertAction(a, { action: 'acknowledge' }).catch((e) => flash(tr, e.message)));
    tr.querySelector('[data-act="open"]').addEventListener('click', () => drillAlert(a));
  });
}

function flash(el, text) {
  const p = document.createElement('div');
  p.className = 'error';
  p.textContent = text;
  el.after(p);
  setTimeout(() => p.remove(), 5000);
}

// Applies an action (the alert actions API) and keeps the wall's copy.
async function alertAction(a, body) {
  const upd = await api(`/api/v1/alerts/${encodeURIComponent(a.id)}/actions`,
      { method: 'POST', body });
  onAlertChanged(upd || a);
  return upd;
}

function onAlertChanged(a) {
  if (!a || !Array.isArray(wall.alerts)) return;
  const i = wall.alerts.findIndex((x) => x.id === a.id);
  if (a.state === 'resolved') { if (i >= 0) wall.alerts.splice(i, 1); }
  else if (i >= 0) wall.alerts[i] = { ...wall.alerts[i], ...a };
  else wall.alerts.unshift(a);
  drawAlerts();
}

// Silencing: the alert's own suppress action; where the server has no
// alert actions yet, a silence of the rule and subject (POST /silences).
async function silenceAlert(a, hours, reason) {
  const until = new Date(Date.now() + hours * 3600e3).toISOString()
      .replace(/\.\d+Z$/, 'Z');
  try {
    return await alertAction(a, { action: 'suppress', reason, until });
  } catch (e) {
    if (e.status !== 404 && e.status !== 405) throw e;
    await api('/api/v1/silences', { method: 'POST', body: { rule: a.rule,
      subject: a.subject, reason, duration: `${Math.round(hours * 3600)}s` } });
    onAlertChanged({ ...a, silenced: true, suppressed_until: until });
    return a;
  }
}

function drillAlert(a) {
  const { m, body } = modal(`${t('alerts')} #${a.id} · ${a.rule} · ${a.subject}`);
  m.dataset.alertModal = a.id;
  const draw = (x) => {
    body.innerHTML = `<p>${esc(t('severity'))} ${esc(x.severity)} · ${esc(t('state'))}
      <b data-alert-state>${esc(alertStatus(x))}</b> · ${esc(t('value'))} ${esc(x.value ?? '–')}
      · ${esc(t('indicator'))} <a href="#" data-indicator>${esc(x.indicator)}</a></p>
      <div class="chart" id="alert-series"></div>
      <div class="grid2 ${may(ALERT_ACTORS) ? '' : 'readonly'}">
        <div><button class="btn" data-act="ack" ${x.acknowledged_by ? 'disabled' : ''}>
          ${esc(t('acknowledge'))}</button>
        <label>${esc(t('assignee'))}<input name="to" value="${esc(x.assignee || '')}"></label>
        <button class="btn" data-act="assign">${esc(t('assign'))}</button>
        <label>${esc(t('comment'))}<textarea name="text" rows="2"></textarea></label>
        <button class="btn" data-act="comment">${esc(t('comment'))}</button></div>
        <div><label>${esc(t('silenceReason'))}<input name="reason"></label>
        <label>${esc(t('silenceHours'))}<input name="hours" type="number" min="0.25" step="0.25" value="4"></label>
        <button class="btn" data-act="silence">${esc(t('silence'))}</button>
        <h3>${esc(t('comments'))}</h3><ul class="comments">${(x.comments || []).map((c) =>
          `<li><time>${esc(when(c.at || c.ts))}</time> ${esc(c.by || c.who || '')}: ${esc(c.text)}</li>`)
          .join('') || `<li class="empty">${esc(t('none'))}</li>`}</ul></div></div>
      <p class="result"></p>`;
    const result = $('.result', body);
    const run = (fn) => fn().then((upd) => { if (upd) { Object.assign(x, upd); draw(x); } })
        .catch((e) => { result.innerHTML = `<span class="error">${esc(e.message)}</span>`; });
    $('[data-act="ack"]', body).addEventListener('click', () =>
      run(() => alertAction(x, { action: 'acknowledge' })));
    $('[data-act="assign"]', body).addEventListener('click', () => {
      const to = $('[name="to"]', body).value.trim();
      if (to) run(() => alertAction(x, { action: 'assign', to }));
    });
    $('[data-act="comment"]', body).addEventListener('click', () => {
      const text = $('[name="text"]', body).value.trim();
      if (text) run(() => alertAction(x, { action: 'comment', text }));
    });
    $('[data-act="silence"]', body).addEventListener('click', () => {
      const reason = $('[name="reason"]', body).value.trim();
      const hours = Number($('[name="hours"]', body).value);
      if (!reason) { $('[name="reason"]', body).focus(); return; }
      if (hours > 0) run(() => silenceAlert(x, hours, reason));
    });
    $('[data-indicator]', body).addEventListener('click', (e) => {
      e.preventDefault();
      drillIndicator(x.indicator, x.subject);
    });
    indicatorChart($('#alert-series', body), x.indicator, x.subject);
  };
  draw(a);
}

// ---- indicators ----

// Draws an indicator's series for one group, its anomalies (a detector
// score of 0.9 or more) marked on the line.
async function indicatorChart(el, id, group) {
  let s;
  try {
    s = await api(`/api/v1/indicators/${encodeURIComponent(id)}/series?group=` +
        `${encodeURIComponent(group || '')}&limit=500`);
  } catch (e) { el.innerHTML = `<p class="error">${esc(e.message)}</p>`; return; }
  await chartsReady;
  const pts = s.points || [];
  const c = echarts.init(el);
  const anomalies = pts.filter((p) => p.score != null && p.score >= 0.9);
  c.setOption({ animation: false, title: { text: `${id} · ${group || ''}`,
    textStyle: { color: '#9fb3e6', fontSize: 12 } }, tooltip: { trigger: 'axis' },
  grid: { left: 50, right: 10, top: 30, bottom: 24 },
  xAxis: { type: 'time', axisLabel: { color: '#9fb3e6' } },
  yAxis: { type: 'value', axisLabel: { color: '#9fb3e6' },
    splitLine: { lineStyle: { color: '#14234a' } } },
  series: [{ name: id, type: 'line', symbol: 'none', data: pts.map((p) => [p.ts, p.value]),
    lineStyle: { color: '#3fb8ff' },
    markPoint: { symbol: 'circle', symbolSize: 9, itemStyle: { color: '#ff4d5e' },
      label: { show: false }, data: anomalies.map((p) => ({ name: t('anomaly'),
        coord: [p.ts, p.value], value: +p.score.toFixed(2) })) } }] });
  el.dataset.anomalies = String(anomalies.length);
  el.dataset.points = String(pts.length);
}

async function drillIndicator(id, group) {
  const { body } = modal(`${t('indicator')} · ${id}`);
  let list = [];
  try { list = await api('/api/v1/indicators'); } catch { /* keep the one asked */ }
  body.innerHTML = `<label>${esc(t('indicator'))}<select name="id">${(list.length ? list
    : [{ id }]).map((i) => `<option ${i.id === id ? 'selected' : ''}>${esc(i.id)}</option>`).join('')}
    </select></label><label>${esc(t('subject'))}<input name="group" value="${esc(group || '')}"></label>
    <div class="chart" id="ind-series" data-indicator-chart></div>`;
  const redraw = () => {
    const el = $('#ind-series', body);
    echarts.getInstanceByDom?.(el)?.dispose();
    indicatorChart(el, $('[name="id"]', body).value, $('[name="group"]', body).value.trim());
  };
  $('[name="id"]', body).addEventListener('change', redraw);
  $('[name="group"]', body).addEventListener('change', redraw);
  await chartsReady;
  redraw();
}

// ---- cases ----

async function loadCases() {
  try {
    wall.cases = await api('/api/v1/cases?limit=500', { reason: 'case pipeline' });
  } catch (e) {
    if (e.status === 403) wall.cases = null; else throw e;
  }
}

function drawPipeline() {
  const box = $('#pipeline');
  if (!box) return;
  if (wall.cases === null) {
    box.innerHTML = `<div class="empty">${esc(t('casesDenied'))}</div>`;
    return;
  }
  const cases = wall.cases || [];
  const by = Object.fromEntries(PIPELINE.map((s) => [s, { n: 0, late: 0 }]));
  for (const c of cases) if (by[c.state]) {
    by[c.state].n++;
    if (c.overdue) by[c.state].late++;
  }
  const open = cases.filter((c) => !['closed', 'evaluated', 'void'].includes(c.state));
  box.innerHTML = `<div class="steps">${PIPELINE.map((s) => `<div class="step ${by[s].late ? 'late' : ''}"
      data-step="${s}"><div class="k">${esc(t(s))}</div><div class="v" data-figure="cases-${s}">${fmt(by[s].n)}</div>
      <div class="sla">${by[s].late ? `${fmt(by[s].late)} ${esc(t('overdue'))}` : '&nbsp;'}</div></div>`).join('')}
    </div>${open.length ? `<table>${open.slice(0, 5).map((c) => `<tr class="clickable" data-case="${c.id}">
      <td>#${c.id}</td><td class="clip">${esc(caseTitle(c))}</td><td>${esc(t(c.state))}</td>
      <td class="${c.overdue ? 'stale' : ''}">${esc(when(c.deadline))}</td></tr>`).join('')}</table>`
    : `<div class="empty">${esc(t('noCases'))}</div>`}`;
  box.querySelectorAll('[data-case]').forEach((tr) =>
    tr.addEventListener('click', () => drillCase(Number(tr.dataset.case))));
}

function onCaseChanged(c) {
  if (!c || !Array.isArray(wall.cases)) return;
  const i = wall.cases.findIndex((x) => x.id === c.id);
  if (i >= 0) wall.cases[i] = c; else wall.cases.unshift(c);
  drawPipeline();
}

// A case from a group-rental suspect (or an elderly alert): made, or the
// open case about the same household, then shown.
async function openCaseFor(kind, householdId) {
  const c = await api('/api/v1/cases', { method: 'POST', reason: 'operator desk',
    body: { category: kind, source_kind: kind, source_ref: householdId,
      reason: 'operator desk' } });
  onCaseChanged(c);
  drillCase(c.id, c);
}

async function drillCase(id, known) {
  const { m, body } = modal(`${t('cases')} #${id}`);
  m.dataset.caseModal = id;
  const draw = async (c) => {
    let photos = [];
    try { photos = await api(`/api/v1/cases/${id}/photos`, { reason: 'case desk' }) || []; }
    catch { photos = null; }
    const mine = (c.allowed || []).filter((a) => me?.role === 'admin' ||
        (a.roles || []).includes(me?.role));
    body.innerHTML = `<p data-case-state="${esc(c.state)}"><b>${esc(caseTitle(c))}</b>
      · ${esc(t('state'))} <b>${esc(t(c.state))}</b> · ${esc(t('category'))} ${esc(category(c.category))}
      · ${esc(t('unit'))} ${esc(c.unit || '–')} · ${esc(t('deadline'))}
      <span class="${c.overdue ? 'stale' : ''}">${esc(when(c.deadline))}${c.overdue ? ` (${esc(t('overdue'))})` : ''}</span>
      · ${esc(t('attempts'))} ${fmt(c.attempts)}</p>
      <p>${esc(t('address'))} ${esc(c.address || '–')} ${c.household_id
        ? `· ${esc(t('household'))} ${esc(c.household_id)}` : ''}</p>
      ${mine.length ? `<label>${esc(t('stepReason'))}<input name="reason"></label>
        <div class="acts">${mine.map((a) => `<button class="btn" data-step-action="${esc(a.action)}"
          title="→ ${esc(t(a.to))}">${esc(stepLabel(a.action))}</button>`).join('')}</div>` : ''}
      <p class="result"></p>
      <h3>${esc(t('caseTimeline'))}</h3><ol class="timeline">${(c.history || []).map((h) =>
        `<li data-history="${esc(h.action)}"><time>${esc(when(h.ts))}</time> <b>${esc(stepLabel(h.action))}</b>
        ${h.from && h.to && h.from !== h.to ? `${esc(t(h.from))} → ${esc(t(h.to))}` : ''}
        · ${esc(h.who)} (${esc(h.role)})${h.reason ? ` · ${esc(h.reason)}` : ''}</li>`).join('')}</ol>
      <h3>${esc(t('photos'))}</h3><div class="photos">${photos === null ? ''
        : photos.length ? photos.map((p) => `<a href="/api/v1/photos/${esc(p.id)}" target="_blank">
          <img src="/api/v1/photos/${esc(p.id)}" alt="${esc(p.visit_id || '')}"></a>`).join('')
          : `<span class="empty">${esc(t('noPhotos'))}</span>`}</div>`;
    body.querySelectorAll('[data-step-action]').forEach((b) => b.addEventListener('click',
      async () => {
        try {
          const reason = $('[name="reason"]', body).value.trim();
          const upd = await api(`/api/v1/cases/${id}/transitions`, { method: 'POST',
            reason: 'case desk', body: { action: b.dataset.stepAction,
              ...(reason ? { reason } : {}) } });
          onCaseChanged(upd);
          await draw(upd);
        } catch (e) { $('.result', body).innerHTML = `<span class="error">${esc(e.message)}</span>`; }
      }));
  };
  try {
    await draw(known && known.history ? known
      : await api(`/api/v1/cases/${id}`, { reason: 'case desk' }));
  } catch (e) { body.innerHTML = `<p class="error">${esc(e.message)}</p>`; }
}

// ---- a street ----

async function drillStreet(name) {
  const r = streetRows().find((x) => x.street === name) ||
      { street: name, suspects: 0, per1000: 0, households: 0, elderly: 0, events: 0 };
  wall.charts.map?.dispatchAction({ type: 'hideTip' });
  const { m, body } = modal(`${t('streetView')} · ${name}`);
  m.dataset.streetModal = name;
  body.innerHTML = `<table class="figs"><tr><td>${esc(t('households'))}</td><td class="n">${fmt(r.households)}</td>
    <td>${esc(t('suspects'))}</td><td class="n" data-figure="street-suspects">${fmt(r.suspects)}</td>
    <td>${esc(t('perThousand'))}</td><td class="n">${(r.per1000 || 0).toFixed(1)}</td>
    <td>${esc(t('elderly'))}</td><td class="n">${fmt(r.elderly)}</td>
    <td>${esc(t('events'))}</td><td class="n">${fmt(r.events)}</td></tr></table>
    <div class="chart" id="street-series"></div><a href="#" data-indicator>${esc(t('series'))}</a>
    <div class="grid2"><div><h3>${esc(t('streetSuspects'))}</h3><div id="street-top"></div></div>
    <div><h3>${esc(t('streetElderly'))}</h3><ul>${(wall.elderly?.alerts || [])
      .filter((a) => a.street === name).slice(0, 10).map((a) => `<li data-elderly="${esc(a.household_id)}">
      ${esc(a.committee)} · ${esc(t('quietHours'))} ${esc(a.hours)} ${esc(t('hours'))}
      ${may(CASE_MAKERS) ? `<button class="btn" data-open-case>${esc(t('openCase'))}</button>` : ''}</li>`).join('')
      || `<li class="empty">${esc(t('none'))}</li>`}</ul></div></div>`;
  body.querySelectorAll('[data-elderly] [data-open-case]').forEach((b) => b.addEventListener('click',
    () => openCaseFor('elderly', b.parentElement.dataset.elderly)
        .catch((e) => flash(b.parentElement, e.message))));
  // the street's daily water use, back-filled from the readings (the
  // scenes' own per-street series start only when the server does)
  indicatorChart($('#street-series', body), 'water_use_street', name);
  $('[data-indicator]', body)?.addEventListener('click', (e) => {
    e.preventDefault();
    drillIndicator('water_use_street', name);
  });
  try {
    const top = await api(`/api/v1/scenes/group-rental/suspects?limit=8&street=${encodeURIComponent(name)}`,
        { reason: 'street drill-down' });
    $('#street-top', body).innerHTML = top.suspects.length ? `<table>${top.suspects.map((s) =>
      `<tr class="clickable" data-household="${esc(s.household_id)}"><td>${esc(s.household_id)}</td>
      <td>${esc(s.committee)}</td><td class="n">${s.score.toFixed(2)}</td></tr>`).join('')}</table>`
      : `<div class="empty">${esc(t('none'))}</div>`;
    body.querySelectorAll('#street-top [data-household]').forEach((tr) =>
      tr.addEventListener('click', () => drillHousehold(tr.dataset.household)));
  } catch (e) { $('#street-top', body).innerHTML = `<p class="error">${esc(e.message)}</p>`; }
}
