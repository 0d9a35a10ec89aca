// Trackly dashboard: plain browser JavaScript over the gateway's /api (no build step, no third-party code).
// Amounts are shown from the API's exact decimal strings; nothing is summed or divided here, so the page can never
// disagree with the CSV or the API. Data is written with textContent only.
'use strict';
(() => {
  const $ = (id) => document.getElementById(id);
  const KEY_STORAGE = 'trackly.apiKey';
  const COMMON_ZONES = ['UTC', 'America/New_York', 'America/Chicago', 'America/Denver', 'America/Los_Angeles', 'Europe/London',
    'Europe/Paris', 'Asia/Kolkata', 'Asia/Kathmandu', 'Asia/Tokyo', 'Australia/Sydney'];
  const LABELS = { creative: 'Creative', offer: 'Offer', campaign: 'Campaign', date: 'Date' };
  let apiKey = sessionStorage.getItem(KEY_STORAGE) || '';

  // ---- helpers -------------------------------------------------------------------------------------------------
  const el = (tag, text, cls) => {
    const e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  };
  const n = (v) => (v === undefined || v === null || v === '' ? '0' : String(v));
  const money = (m) => (m && m.currencyCode ? `${m.currencyCode} ${m.amount ?? '0.00'}` : '');
  /** Millionths as a percentage with two decimals, in integers: 120000 -> "12.00%". */
  const pct = (ppm) => {
    const hundredths = (BigInt(n(ppm)) + 50n) / 100n;
    return `${hundredths / 100n}.${String(hundredths % 100n).padStart(2, '0')}%`;
  };
  const isoDay = (d) => d.toISOString().slice(0, 10);
  const settings = () => ({
    from: $('from').value,
    to: $('to').value,
    tz: $('tz').value,
    group_by: $('group-by').value,
    then_by: $('then-by').value,
    date_basis: $('date-basis').value,
  });

  async function api(path, params = {}) {
    const url = new URL(path, location.origin);
    for (const [k, v] of Object.entries(params)) if (v) url.searchParams.set(k, v);
    const res = await fetch(url, { headers: apiKey ? { 'X-API-Key': apiKey } : {} });
    if (!res.ok) {
      const body = await res.json().catch(() => ({}));
      const fields = body.fields ? ` (${Object.entries(body.fields).map(([f, p]) => `${f} ${p}`).join('; ')})` : '';
      throw new Error(`${res.status} ${body.error || res.statusText}: ${body.message || ''}${fields}`);
    }
    return res;
  }

  function showError(e) {
    const box = $('error');
    box.hidden = !e;
    box.textContent = e ? String(e.message || e) : '';
  }

  function fillTable(table, header, rows, footer) {
    const head = table.tHead;
    const body = table.tBodies[0];
    head.replaceChildren();
    body.replaceChildren();
    const tr = el('tr');
    header.forEach((h, i) => tr.append(el('th', h, i < 2 ? 'text' : undefined)));
    head.append(tr);
    const line = (cells, target) => {
      const r = el('tr');
      cells.forEach((c, i) => r.append(el('td', c, i < 2 ? 'text' : undefined)));
      target.append(r);
    };
    if (!rows.length) line(['No data in this range', ...header.slice(1).map(() => '')], body);
    rows.forEach((cells) => line(cells, body));
    if (table.tFoot) {
      table.tFoot.replaceChildren();
      (footer || []).forEach((cells) => line(cells, table.tFoot));
    }
  }

  // ---- performance ---------------------------------------------------------------------------------------------
  function performanceLines(row, s, label) {
    const key = label ?? (row.name ? `${row.name} (${row.key})` : n(row.key || ''));
    const key2 = s.then_by ? (row.name2 ? `${row.name2} (${row.key2})` : row.key2 || '') : undefined;
    const counts = [n(row.sends), n(row.clicks), n(row.uniqueClicks), n(row.conversions), n(row.reversedConversions), pct(row.ctrPpm), pct(row.cvrPpm)];
    const revenue = row.revenue && row.revenue.length ? row.revenue : [{}];
    return revenue.map((t) => [
      key, ...(key2 === undefined ? [] : [key2]), ...counts,
      money(t.revenue), money(t.pendingRevenue), money(t.reversed), money(t.revenuePerSend), money(t.epc),
    ]);
  }

  async function loadPerformance(s) {
    const report = await (await api('/api/reports/performance', s)).json();
    const header = [LABELS[s.group_by], ...(s.then_by ? [LABELS[s.then_by]] : []), 'Sends', 'Clicks', 'Unique clicks', 'Conversions',
      'Reversed', 'CTR', 'CVR', 'Revenue', 'Pending', 'Reversed revenue', 'Revenue / send', 'EPC'];
    const rows = (report.rows || []).flatMap((r) => performanceLines(r, s));
    const footer = report.total ? performanceLines(report.total, s, 'Total') : [];
    fillTable($('performance'), header, rows, footer);
    $('performance').dataset.groupBy = s.group_by;
    $('performance').dataset.timeZone = report.timeZone || '';
  }

  // ---- revenue by date chart -----------------------------------------------------------------------------------
  async function loadChart(s) {
    const report = await (await api('/api/reports/performance', { ...s, group_by: 'date', then_by: '' })).json();
    const rows = report.rows || [];
    const currencies = [...new Set(rows.flatMap((r) => (r.revenue || []).map((t) => t.revenue && t.revenue.currencyCode)).filter(Boolean))].sort();
    const currency = currencies.includes('USD') ? 'USD' : currencies[0];
    const points = rows.map((r) => {
      const t = (r.revenue || []).find((x) => x.revenue && x.revenue.currencyCode === currency);
      return { day: r.key, micros: t ? BigInt(t.revenue.amountMicros || '0') : 0n, label: t ? money(t.revenue) : `${currency || ''} 0.00` };
    });
    const box = $('chart');
    box.replaceChildren();
    box.dataset.timeZone = report.timeZone || '';
    if (!points.length || !currency) {
      box.append(el('p', 'No revenue in this range', 'muted'));
      return;
    }
    const NS = 'http://www.w3.org/2000/svg';
    const W = 800, H = 220, PAD = 24;
    const svg = document.createElementNS(NS, 'svg');
    svg.setAttribute('viewBox', `0 0 ${W} ${H}`);
    svg.setAttribute('role', 'img');
    svg.setAttribute('aria-label', `Approved revenue per day in ${currency}`);
    const max = points.reduce((m, p) => (p.micros > m ? p.micros : m), 1n);
    const step = (W - PAD) / points.length;
    points.forEach((p, i) => {
      // Drawing only: the ratio to the tallest bar may be a float; the numbers shown come from the API.
      const h = Math.max(p.micros > 0n ? 1 : 0, Number((p.micros * 1000n) / max) / 1000 * (H - 2 * PAD));
      const bar = document.createElementNS(NS, 'rect');
      bar.setAttribute('x', String(PAD + i * step + 1));
      bar.setAttribute('y', String(H - PAD - h));
      bar.setAttribute('width', String(Math.max(1, step - 2)));
      bar.setAttribute('height', String(h));
      bar.dataset.day = p.day;
      const title = document.createElementNS(NS, 'title');
      title.textContent = `${p.day}: ${p.label}`;
      bar.append(title);
      svg.append(bar);
      if (points.length <= 14 || i % Math.ceil(points.length / 14) === 0) {
        const t = document.createElementNS(NS, 'text');
        t.setAttribute('x', String(PAD + i * step));
        t.setAttribute('y', String(H - 6));
        t.textContent = p.day.slice(5);
        svg.append(t);
      }
    });
    const caption = document.createElementNS(NS, 'text');
    caption.setAttribute('x', String(PAD));
    caption.setAttribute('y', '14');
    caption.textContent = `${currency}, max ${points.find((p) => p.micros === max)?.label ?? ''}`;
    svg.append(caption);
    box.append(svg);
  }

  // ---- reconciliation ------------------------------------------------------------------------------------------
  async function loadReconciliation(s) {
    const report = await (await api('/api/reports/reconciliation', { from: s.from, to: s.to, tz: s.tz })).json();
    const c = (x) => `${n(x && x.count)} · ${money(x && x.amount)}`;
    fillTable(
      $('reconciliation'),
      ['Partner', 'Date', 'Currency', 'Received', 'Credited', 'Reversed', 'Unattributed', 'Awaiting decision', 'Partner status pending'],
      (report.rows || []).map((r) => [
        r.partnerId, r.date, r.currencyCode, c(r.received), c(r.credited), c(r.reversed),
        (r.unattributed || []).map((u) => `${u.reason}: ${c(u.total)}`).join(', ') || '—', c(r.pending), c(r.receivedPendingStatus),
      ]),
    );
  }

  // ---- send-cohort maturity -----------------------------------------------------------------------------------
  async function loadMaturity(s) {
    const groupBy = s.group_by === 'date' ? '' : s.group_by;
    const report = await (await api('/api/reports/maturity', { from: s.from, to: s.to, tz: s.tz, group_by: groupBy })).json();
    const lines = (row, label) => {
      const currencies = [...new Set((row.points || []).flatMap((p) => (p.revenue || []).map((m) => m.currencyCode)))].sort();
      return currencies.map((c) => [
        label ?? (row.name ? `${row.name} (${row.key})` : row.key || ''), n(row.sends), c,
        ...(row.points || []).map((p) => {
          const i = (p.revenue || []).findIndex((m) => m.currencyCode === c);
          return i < 0 ? '' : `${money(p.revenuePerSend[i])}`;
        }),
      ]);
    };
    const rows = [...(report.rows || []).flatMap((r) => lines(r)), ...(report.total ? lines(report.total, 'All sends') : [])];
    fillTable($('maturity'), [groupBy ? LABELS[groupBy] : 'Cohort', 'Sends', 'Currency', 'Day 1', 'Day 7', 'Day 30', 'Day 90'], rows);
  }

  // ---- lookups -------------------------------------------------------------------------------------------------
  function details(target, pairs) {
    const dl = el('dl');
    for (const [k, v] of pairs) dl.append(el('dt', k), el('dd', v));
    target.append(dl);
  }

  async function showMessage(id) {
    const target = $('message');
    target.replaceChildren();
    const m = await (await api(`/api/reports/messages/${encodeURIComponent(id)}`)).json();
    details(target, [
      ['Message', m.messageId], ['Sent to', m.phoneMasked || '—'], ['Sent at', m.sentAt || '—'], ['Clicked', m.clicked ? 'Yes' : 'No'],
      ['First click', m.firstClickedAt || '—'], ['Clicks', n(m.clickCount)],
      ['Later clicks', (m.clickTimes || []).slice(1).join(', ') || '—'], ['Conversions', String((m.conversions || []).length)],
      ['Revenue', (m.revenue || []).map(money).join(', ') || '—'],
      ['Credited to', `offer ${m.offerId || '—'} · creative ${m.creativeId || '—'} · campaign ${m.campaignId || '—'}`],
    ]);
    const table = el('table');
    table.append(el('thead'), el('tbody'));
    fillTable(table, ['Conversion', 'Partner', 'Status', 'At', 'Payout'],
      (m.conversions || []).map((c) => [c.conversionId, c.partnerId, c.status, c.occurredAt, money(c.payout)]));
    target.append(table);
  }

  async function showJourney(id) {
    const target = $('journey');
    target.replaceChildren();
    const j = await (await api(`/api/reports/contacts/${encodeURIComponent(id)}/journey`)).json();
    details(target, [
      ['Messages', n(j.messagesReceived)], ['Clicks', n(j.clicks)], ['Conversions', n(j.conversions)],
      ['Total revenue', (j.totalRevenue || []).map(money).join(', ') || '—'],
    ]);
    const table = el('table');
    table.append(el('thead'), el('tbody'));
    fillTable(table, ['At', 'What', 'Message', 'Offer', 'Payout'],
      (j.events || []).map((e) => [e.at, (e.kind || '').replace('JOURNEY_EVENT_KIND_', '').replace('_', ' ').toLowerCase(), e.messageId || '', e.offerId || '', money(e.payout)]));
    target.append(table);
  }

  async function downloadCsv(path, params, name) {
    const blob = await (await api(path, { ...params, format: 'csv' })).blob();
    const a = el('a');
    a.href = URL.createObjectURL(blob);
    a.download = name;
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
  }

  // ---- wiring --------------------------------------------------------------------------------------------------
  let generation = 0;
  async function loadAll() {
    const s = settings();
    const mine = ++generation;
    showError(null);
    document.body.dataset.loading = 'true';
    try {
      await Promise.all([loadPerformance(s), loadChart(s), loadReconciliation(s), loadMaturity(s)]);
    } catch (e) {
      if (mine === generation) showError(e);
    } finally {
      if (mine === generation) document.body.dataset.loading = 'false';
    }
  }
  const guarded = (fn) => (ev) => {
    if (ev) ev.preventDefault();
    Promise.resolve(fn()).catch(showError);
  };

  function init() {
    const zones = new Set([...COMMON_ZONES, ...(Intl.supportedValuesOf ? Intl.supportedValuesOf('timeZone') : [])]);
    for (const z of zones) $('tz').append(new Option(z, z));
    $('tz').value = 'UTC';
    const today = new Date();
    $('to').value = isoDay(today);
    $('from').value = isoDay(new Date(today.getTime() - 29 * 86_400_000));
    $('api-key').value = apiKey;
    $('key-state').textContent = apiKey ? 'key set for this tab' : 'no key';

    $('key-form').addEventListener('submit', guarded(() => {
      apiKey = $('api-key').value.trim();
      sessionStorage.setItem(KEY_STORAGE, apiKey);
      $('key-state').textContent = apiKey ? 'key set for this tab' : 'no key';
      return loadAll();
    }));
    $('load').addEventListener('click', guarded(loadAll));
    for (const id of ['tz', 'group-by', 'then-by', 'date-basis']) $(id).addEventListener('change', guarded(loadAll));
    $('csv').addEventListener('click', guarded(() => downloadCsv('/api/reports/performance', settings(), 'trackly-performance.csv')));
    $('rec-csv').addEventListener('click', guarded(() => {
      const s = settings();
      return downloadCsv('/api/reports/reconciliation', { from: s.from, to: s.to, tz: s.tz }, 'trackly-reconciliation.csv');
    }));
    $('message-form').addEventListener('submit', guarded(() => showMessage($('message-id').value.trim())));
    $('contact-form').addEventListener('submit', guarded(() => showJourney($('contact-id').value.trim())));
    loadAll();
  }

  init();
})();
