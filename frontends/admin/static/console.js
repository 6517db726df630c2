// The recorder's web console: plain DOM code, no library, no build step. The admin token is
// never stored: the login form posts it once and the server answers with an HttpOnly
// session cookie, which every request below (fetch, <img>, <video>) carries.
'use strict';

const $ = (id) => document.getElementById(id);
const THUMB_EVERY = 3000; // ms between thumbnail refreshes
const POLL_EVERY = 3000;  // ms between session polls
const STATS_EVERY = 5000; // ms between stats polls (the chart)
const QUEUE_EVERY = 10000; // ms between upload queue polls
const CHART_SPAN = 300;   // s of history in the charts

let timers = [];
let samples = []; // {t, cpu, bytes, frames}

function el(tag, props, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (k === 'class') e.className = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (k in e && typeof v !== 'string') e[k] = v;
    else e.setAttribute(k, v);
  }
  for (const k of kids) e.append(k);
  return e;
}

function ms(n) {
  const s = Math.round(n / 1000);
  const h = Math.floor(s / 3600), m = Math.floor(s / 60) % 60;
  return (h ? h + 'h' : '') + (h || m ? m + 'm' : '') + (s % 60) + 's';
}

async function api(method, path, body) {
  const opts = { method, headers: {}, credentials: 'same-origin' };
  if (body !== undefined) {
    opts.headers['Content-Type'] = 'application/json';
    opts.body = JSON.stringify(body);
  }
  const r = await fetch(path, opts);
  if (r.status === 401) {
    showLogin('Your session has ended: log in again.');
    throw new Error('unauthorized');
  }
  const data = r.status === 204 ? null : await r.json();
  if (!r.ok) throw new Error(data && data.message ? data.message : r.status + ' ' + r.statusText);
  return data;
}

function say(msg) { $('status').textContent = msg; }

// confirmAction asks in a modal dialog; resolves true on Confirm.
function confirmAction(text) {
  const d = $('confirm');
  $('confirm-text').textContent = text;
  return new Promise((resolve) => {
    d.addEventListener('close', () => resolve(d.returnValue === 'ok'), { once: true });
    d.returnValue = '';
    d.showModal();
    $('confirm-cancel').focus();
  });
}

// --- login -------------------------------------------------------------------------------

function showLogin(msg) {
  timers.forEach(clearInterval);
  timers = [];
  $('app').hidden = true;
  $('logout').hidden = true;
  $('login').hidden = false;
  $('login-error').textContent = msg || '';
  $('token').focus();
}

function showApp() {
  $('login').hidden = true;
  $('app').hidden = false;
  $('logout').hidden = false;
  refreshSessions();
  refreshUploads();
  refreshStats();
  searchRecordings();
  // A hidden page (another tab, minimised) asks for nothing.
  const whenVisible = (fn) => () => { if (document.visibilityState === 'visible') fn(); };
  timers.push(setInterval(whenVisible(refreshSessions), POLL_EVERY));
  timers.push(setInterval(whenVisible(refreshThumbnails), THUMB_EVERY));
  timers.push(setInterval(whenVisible(refreshUploads), QUEUE_EVERY));
  timers.push(setInterval(whenVisible(refreshStats), STATS_EVERY));
}

$('login-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const tok = $('token');
  const r = await fetch('/console/login', {
    method: 'POST', credentials: 'same-origin',
    body: new URLSearchParams({ token: tok.value }),
  });
  tok.value = ''; // not kept anywhere
  if (r.status === 204) showApp();
  else $('login-error').textContent = r.status === 401 ? 'Wrong token.' : 'Login failed: ' + r.status;
});

$('logout').addEventListener('click', async () => {
  await fetch('/console/logout', { method: 'POST', credentials: 'same-origin' });
  showLogin('Logged out.');
});

// --- sessions ----------------------------------------------------------------------------

const thumbs = new Map(); // img → url without the cache buster

async function refreshSessions() {
  let data;
  try { data = await api('GET', '/api/v1/sessions'); } catch (e) { say('Sessions: ' + e.message); return; }
  const list = $('sessions');
  const seen = new Set();
  for (const s of data.sessions) {
    seen.add(s.id);
    let li = list.querySelector(`li[data-id="${CSS.escape(s.id)}"]`);
    if (!li) li = list.appendChild(sessionCard(s));
    li.querySelector('.state').textContent = s.state;
    li.querySelector('.state').className = 'state state-' + s.state;
    li.querySelector('.duration').textContent = ms(s.duration_ms);
    li.querySelector('.masked').textContent = ms(s.masked_ms);
    li.querySelector('.mask').textContent = s.state === 'masked' ? 'Unmask' : 'Mask';
    li.dataset.state = s.state;
    const box = li.querySelector('.thumbs');
    const n = Math.max(1, (s.tracks || []).length);
    while (box.children.length < n) {
      const i = box.children.length;
      const name = s.tracks && s.tracks[i] ? s.tracks[i].name : 'track ' + i;
      const img = el('img', { alt: `Screen of ${s.owner}, ${name}`, width: 320, 'data-track': String(i) });
      const url = `/api/v1/sessions/${encodeURIComponent(s.id)}/thumbnail?track=${i}&width=320`;
      thumbs.set(img, url);
      img.src = url + '&t=' + Date.now();
      box.append(img);
    }
  }
  for (const li of [...list.children]) {
    if (!seen.has(li.dataset.id)) {
      li.querySelectorAll('img').forEach((i) => thumbs.delete(i));
      li.remove();
    }
  }
  $('sessions-empty').hidden = data.sessions.length > 0;
}

function sessionCard(s) {
  const stop = el('button', { type: 'button', class: 'stop', onclick: async () => {
    if (!await confirmAction(`Stop the recording of ${s.owner} (${s.id})?`)) return;
    try {
      const r = await api('POST', `/api/v1/sessions/${encodeURIComponent(s.id)}/stop`);
      say(`Stopped ${s.id}: ${r.state}.`);
    } catch (e) { say('Stop: ' + e.message); }
    refreshSessions();
    searchRecordings();
  } }, 'Stop');
  const mask = el('button', { type: 'button', class: 'mask', onclick: async (ev) => {
    const on = ev.target.closest('li').dataset.state !== 'masked';
    if (!await confirmAction(`${on ? 'Mask' : 'Unmask'} the recordings of ${s.owner}?`)) return;
    try {
      await api('POST', '/api/v1/mask', { owner: s.owner, on });
      say(`${on ? 'Masked' : 'Unmasked'} ${s.owner}.`);
    } catch (e) { say('Mask: ' + e.message); }
    refreshSessions();
  } }, 'Mask');
  return el('li', { 'data-id': s.id },
    el('h3', {}, `${s.owner} `, el('small', {}, s.id)),
    el('p', {}, 'State: ', el('span', { class: 'state' }), ' · front end: ', s.frontend,
      ' · duration: ', el('span', { class: 'duration' }), ' · masked: ', el('span', { class: 'masked' })),
    el('div', { class: 'thumbs' }),
    el('p', {}, mask, ' ', stop));
}

function refreshThumbnails() {
  for (const [img, url] of thumbs) {
    // Load off-screen, then swap: no flicker, and a failed load keeps the last picture.
    const next = new Image();
    next.onload = () => { img.src = next.src; };
    next.src = url + '&t=' + Date.now();
  }
}

// --- chart -------------------------------------------------------------------------------

async function refreshStats() {
  let st;
  try { st = await api('GET', '/api/v1/stats'); } catch (e) { return; }
  const t = Date.parse(st.at) / 1000;
  samples.push({ t, cpu: st.cpu_seconds, bytes: st.bytes, frames: st.frames });
  samples = samples.filter((s) => s.t >= t - CHART_SPAN - 5);
  const rates = [];
  for (let i = 1; i < samples.length; i++) {
    const a = samples[i - 1], b = samples[i], dt = b.t - a.t;
    if (dt <= 0) continue;
    rates.push({ t: b.t, cpu: 100 * (b.cpu - a.cpu) / dt, rate: 8 * (b.bytes - a.bytes) / dt / 1000,
      fps: (b.frames - a.frames) / dt });
  }
  draw('chart-cpu', rates, 'cpu', t, 'cpu-now', (v) => v.toFixed(1) + ' %');
  draw('chart-rate', rates, 'rate', t, 'rate-now', (v) => v.toFixed(0) + ' kbit/s');
  draw('chart-fps', rates, 'fps', t, 'fps-now', (v) => v.toFixed(1) + ' fps');
}

const SVG = 'http://www.w3.org/2000/svg';

function draw(id, rates, key, now, nowId, fmt) {
  const svg = $(id);
  svg.replaceChildren();
  if (!rates.length) return;
  const top = Math.max(1, ...rates.map((r) => r[key])) * 1.1;
  const pts = rates.map((r) => {
    const x = 300 - (now - r.t) * 300 / CHART_SPAN;
    const y = 80 - r[key] * 80 / top;
    return x.toFixed(1) + ',' + y.toFixed(1);
  });
  const line = document.createElementNS(SVG, 'polyline');
  line.setAttribute('points', pts.join(' '));
  svg.append(line);
  const last = rates[rates.length - 1][key];
  $(nowId).textContent = '— now ' + fmt(last);
  svg.setAttribute('aria-label', `${id.slice(6)}: now ${fmt(last)}, peak ${fmt(top / 1.1)}`);
}

// --- recordings --------------------------------------------------------------------------

$('rec-search').addEventListener('submit', (ev) => { ev.preventDefault(); searchRecordings(); });

async function searchRecordings() {
  const q = new URLSearchParams();
  if ($('q-owner').value) q.set('owner', $('q-owner').value);
  if ($('q-state').value) q.set('state', $('q-state').value);
  let data;
  try { data = await api('GET', '/api/v1/recordings?' + q); } catch (e) { say('Recordings: ' + e.message); return; }
  // The API filters by owner and state; the dates are filtered here, on the start time.
  const from = $('q-from').value ? Date.parse($('q-from').value) : -Infinity;
  const to = $('q-to').value ? Date.parse($('q-to').value) + 86400000 : Infinity;
  const rows = data.recordings
    .filter((r) => { const t = Date.parse(r.started_at || r.created_at); return t >= from && t < to; })
    .reverse()
    .map((r) => el('tr', { 'data-id': r.id },
      el('td', {}, new Date(r.started_at || r.created_at).toLocaleString()),
      el('td', {}, r.owner), el('td', {}, r.frontend),
      el('td', { class: 'state-' + r.state }, r.state),
      el('td', {}, ms(r.duration_ms)), el('td', {}, ms(r.masked_ms)),
      el('td', {}, el('button', { type: 'button', class: 'details', onclick: () => showDetails(r.id) }, 'Details'))));
  $('recordings').replaceChildren(...rows);
}

let current = null; // the recording shown in details

async function showDetails(id) {
  let rec, up;
  try {
    rec = await api('GET', `/api/v1/recordings/${encodeURIComponent(id)}`);
    up = await api('GET', `/api/v1/uploads?recording_id=${encodeURIComponent(id)}`);
  } catch (e) { say('Details: ' + e.message); return; }
  current = rec;
  $('details').hidden = false;
  $('details-title').textContent = `Recording ${rec.id} of ${rec.owner}`;
  const meta = [['State', rec.state + (rec.error ? ': ' + rec.error : '')], ['Front end', rec.frontend],
    ['Started', rec.started_at || '—'], ['Ended', rec.ended_at || '—'], ['Duration', ms(rec.duration_ms)],
    ['Masked', ms(rec.masked_ms)], ['Encoder', rec.encoder || '—'], ['Monitors', rec.source.monitors],
    ...Object.entries(rec.labels || {}).map(([k, v]) => ['Label ' + k, v])];
  $('details-meta').replaceChildren(...meta.flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, String(v))]));
  const segs = rec.segments || [];
  $('details-segment').replaceChildren(...segs.map((s) => el('option', { value: String(s.index) }, `${s.index} (${(s.bytes / 1e6).toFixed(1)} MB)`)));
  const rows = [];
  for (const s of segs) {
    const jobs = up.uploads.filter((u) => u.segment_index === s.index);
    if (!jobs.length) rows.push(el('tr', {}, el('td', {}, String(s.index)), el('td', {}, String(s.bytes)), el('td', {}, '—'), el('td', {}, s.closed ? 'not queued' : 'recording'), el('td', {}, ''), el('td', {}, '')));
    for (const u of jobs) rows.push(el('tr', {}, el('td', {}, String(s.index)), el('td', {}, String(s.bytes)), el('td', {}, u.target), el('td', {}, u.state), el('td', {}, String(u.attempts)), el('td', {}, u.last_error || '')));
  }
  $('details-segments').replaceChildren(...rows);
  play(segs.length ? segs[0].index : 0);
  $('details').scrollIntoView();
}

$('details-segment').addEventListener('change', (ev) => play(Number(ev.target.value)));

function segOffset(index) {
  // Segments' start offsets are not in the API: earlier segments' share of the bytes
  // estimates it (exact for the first segment).
  const segs = current.segments || [];
  const total = segs.reduce((n, s) => n + s.bytes, 0) || 1;
  const before = segs.filter((s) => s.index < index).reduce((n, s) => n + s.bytes, 0);
  return current.duration_ms * before / total;
}

function play(index) {
  const v = $('player');
  if (!index) { v.removeAttribute('src'); v.load(); drawTimeline(); return; }
  v.src = `/api/v1/recordings/${encodeURIComponent(current.id)}/segments/${index}`;
  v.dataset.segment = String(index);
  drawTimeline();
}

function drawTimeline() {
  const svg = $('timeline');
  svg.replaceChildren();
  if (!current || !current.duration_ms) return;
  const d = current.duration_ms;
  for (const iv of current.masked_intervals || []) {
    const r = document.createElementNS(SVG, 'rect');
    const end = iv.end_ms || d;
    r.setAttribute('x', String(1000 * iv.start_ms / d));
    r.setAttribute('width', String(Math.max(2, 1000 * (end - iv.start_ms) / d)));
    r.setAttribute('y', '0'); r.setAttribute('height', '20');
    r.setAttribute('class', 'mask');
    const title = document.createElementNS(SVG, 'title');
    title.textContent = `masked ${ms(iv.start_ms)}–${ms(end)}`;
    r.append(title);
    svg.append(r);
  }
  const v = $('player');
  const head = document.createElementNS(SVG, 'rect');
  const at = segOffset(Number(v.dataset.segment || 1)) + 1000 * (v.currentTime || 0);
  head.setAttribute('x', String(Math.min(998, 1000 * at / d)));
  head.setAttribute('width', '2'); head.setAttribute('y', '0'); head.setAttribute('height', '20');
  head.setAttribute('class', 'head');
  svg.append(head);
}

$('player').addEventListener('timeupdate', drawTimeline);
$('timeline').addEventListener('click', (ev) => {
  if (!current) return;
  const box = ev.currentTarget.getBoundingClientRect();
  const at = current.duration_ms * (ev.clientX - box.left) / box.width;
  const v = $('player');
  v.currentTime = Math.max(0, (at - segOffset(Number(v.dataset.segment || 1))) / 1000);
});

// --- uploads -----------------------------------------------------------------------------

async function refreshUploads() {
  let data;
  try { data = await api('GET', '/api/v1/uploads'); } catch (e) { return; }
  const rows = data.uploads.slice(-200).reverse().map((u) => el('tr', { 'data-job': String(u.id) },
    el('td', {}, String(u.id)), el('td', {}, u.recording_id), el('td', {}, String(u.segment_index)),
    el('td', {}, u.target), el('td', { class: 'state-' + u.state }, u.state), el('td', {}, String(u.attempts)),
    el('td', {}, u.last_error || ''),
    el('td', {}, u.state === 'failed' ? el('button', { type: 'button', class: 'retry', onclick: async () => {
      if (!await confirmAction(`Retry upload job ${u.id} (segment ${u.segment_index} of ${u.recording_id} to ${u.target})?`)) return;
      try { await api('POST', `/api/v1/uploads/${u.id}/retry`); say(`Job ${u.id} queued again.`); } catch (e) { say('Retry: ' + e.message); }
      refreshUploads();
    } }, 'Retry') : '')));
  $('uploads').replaceChildren(...rows);
}

// --- start -------------------------------------------------------------------------------

(async () => {
  const r = await fetch('/api/v1/sessions', { credentials: 'same-origin' });
  if (r.ok) showApp(); else showLogin();
})();
