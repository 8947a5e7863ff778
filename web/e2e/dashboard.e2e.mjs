#!/usr/bin/env node
// End-to-end test of the dashboard against the real watcher-svc and
// gateway-svc, in Debian's headless chromium driven by playwright-core.
//
//   npm run e2e                      (builds web/dist first)
//   CODEREF_BUILD_DIR=../build/dev npm run e2e
//   E2E_BACKEND=mock npm run e2e     (dev only: dev/mock-server.mjs instead)
//
// It makes a temp workspace (projects.json + two projects with coderef/),
// starts the services on free loopback ports, opens the page the gateway
// serves, and checks: a new plan.json appears in the Plans tab within 1 s
// with no reload; an edit changes its status in place; stopping the gateway
// turns the dot red with exactly one toast while retries keep failing;
// restarting it turns the dot green with one toast and shows what changed
// meanwhile; restarting the watcher on its saved state (--state-dir) with 3
// changes made while it was down shows "Watcher restarted — 3 changes made
// meanwhile applied" with no reload. Then it measures save-to-row latency
// over 20 saves, in the page.
// Screenshots, logs and latency.json go to web/test-output/. The services
// are stopped by PID at the end, whatever happens.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const WEB = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const OUT = path.join(WEB, 'test-output');
const DIST = path.join(WEB, 'dist');
const BACKEND = process.env.E2E_BACKEND === 'mock' ? 'mock' : 'real';
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const SAVES = Number(process.env.E2E_SAVES || 20);
const PING_MS = 1000;

const nowMs = () => performance.timeOrigin + performance.now();
const log = (...a) => console.log(`[e2e ${new Date().toISOString().slice(11, 23)}]`, ...a);

// ---------------------------------------------------------------- helpers

/** Polls `fn` until it returns a truthy value; throws after `timeoutMs`. */
async function waitFor(what, fn, { timeoutMs = 5000, intervalMs = 25 } = {}) {
  const end = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${last.message}` : ''}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

async function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function httpOk(url) {
  try {
    const r = await fetch(url, { signal: AbortSignal.timeout(1000) });
    return r.ok;
  } catch {
    return false;
  }
}

function findBinaries() {
  const explicit = process.env.CODEREF_BUILD_DIR;
  const dirs = explicit ? [path.resolve(WEB, explicit)] : [path.resolve(WEB, '../build/release'), ...listBuildDirs()];
  const w = (d) => path.join(d, 'watcher-svc/watcher-svc');
  const g = (d) => path.join(d, 'gateway-svc/gateway-svc');
  // Overrides for one binary each; otherwise one build dir holding both.
  let watcher = process.env.CODEREF_WATCHER_BIN;
  let gateway = process.env.CODEREF_GATEWAY_BIN;
  const both = dirs.find((d) => fs.existsSync(w(d)) && fs.existsSync(g(d)));
  watcher ??= both && w(both);
  gateway ??= both && g(both);
  if (!explicit) {
    // While the services are built in separate trees: the newest of each.
    const newest = (f) =>
      dirs.map(f).filter((p) => fs.existsSync(p)).sort((a, b) => fs.statSync(b).mtimeMs - fs.statSync(a).mtimeMs)[0];
    watcher ??= newest(w);
    gateway ??= newest(g);
  }
  if (!watcher || !gateway || !fs.existsSync(watcher) || !fs.existsSync(gateway)) {
    throw new Error(
      `watcher-svc and gateway-svc not found in ${dirs.join(', ')}; build them ` +
        `(cmake --preset release && cmake --build --preset release) or set CODEREF_BUILD_DIR`,
    );
  }
  return { watcher, gateway };
}

function listBuildDirs() {
  const root = path.resolve(WEB, '../build');
  if (!fs.existsSync(root)) return [];
  return fs.readdirSync(root).map((d) => path.join(root, d)).filter((d) => fs.statSync(d).isDirectory());
}

/** A child process whose output goes to test-output/<name>.log. */
class Service {
  constructor(name, cmd, args) {
    this.name = name;
    this.cmd = cmd;
    this.args = args;
    this.proc = null;
    this.starts = 0;
  }

  start() {
    this.starts++;
    const logFile = fs.openSync(path.join(OUT, `${this.name}.log`), this.starts === 1 ? 'w' : 'a');
    fs.writeSync(logFile, `--- start ${this.starts}: ${this.cmd} ${this.args.join(' ')}\n`);
    this.proc = spawn(this.cmd, this.args, { stdio: ['ignore', logFile, logFile] });
    fs.closeSync(logFile);
    this.exited = new Promise((resolve) => this.proc.once('exit', (code, signal) => resolve({ code, signal })));
    log(`${this.name} started, pid ${this.proc.pid}`);
    return this;
  }

  get running() {
    return this.proc && this.proc.exitCode === null && this.proc.signalCode === null;
  }

  /** SIGTERM by PID, wait for exit; SIGKILL after `graceMs`. */
  async stop(graceMs = 3000) {
    if (!this.running) return null;
    const pid = this.proc.pid;
    process.kill(pid, 'SIGTERM');
    const timeout = new Promise((r) => setTimeout(() => r(null), graceMs));
    let res = await Promise.race([this.exited, timeout]);
    if (!res) {
      log(`${this.name} (pid ${pid}) ignored SIGTERM for ${graceMs} ms: SIGKILL`);
      process.kill(pid, 'SIGKILL');
      res = await this.exited;
    }
    log(`${this.name} (pid ${pid}) exited`, res);
    return res;
  }
}

// ---------------------------------------------------------- the workspace

function writeJson(file, obj) {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, JSON.stringify(obj, null, 2));
}

/** An editor's save: write a temp file beside it, rename over it. */
function atomicWriteJson(file, obj) {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  fs.writeFileSync(tmp, JSON.stringify(obj, null, 2));
  fs.renameSync(tmp, file);
}

function planJson(feature, status, wo) {
  return {
    META_DOCUMENTATION: { feature_name: feature, status, project: 'alpha', workorder_id: wo, version: '1.0.0' },
    UNIVERSAL_PLANNING_STRUCTURE: { '0_preparation': {}, '5_task_id_system': { workorder: { id: wo } } },
  };
}

function makeWorkspace() {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'coderef-e2e-'));
  const alpha = path.join(root, 'alpha');
  const beta = path.join(root, 'beta');
  fs.mkdirSync(path.join(alpha, 'coderef/working'), { recursive: true });
  fs.mkdirSync(path.join(alpha, 'coderef/archived'), { recursive: true });
  writeJson(path.join(alpha, 'coderef/archived/login-page/plan.json'), planJson('login-page', 'complete', 'WO-LOGIN-PAGE-001'));
  writeJson(path.join(beta, 'coderef/working/search/plan.json'), { feature_name: 'search', status: 'planning', workorder_id: 'WO-SEARCH-001' });
  writeJson(path.join(beta, 'coderef/working/search/communication.json'), {
    handoff: { workorder_id: 'WO-SEARCH-001', feature_name: 'search', type: 'implementation', status: 'pending', initiated_at: '2026-01-20T09:30:00Z', from: 'lead', to: 'agent-2' },
  });
  writeJson(path.join(beta, 'coderef/stubs/dark-mode/stub.json'), {
    feature_name: 'dark-mode', description: 'Dark theme for the dashboard', category: 'feature', priority: 'high', created: '2026-01-10', status: 'stub',
  });
  fs.writeFileSync(
    path.join(beta, 'coderef/workorder-log.txt'),
    'WO-SEARCH-001 | beta | Search index and query API | 2026-01-20T09:30:00Z\nWO-LOGIN-PAGE-001 | alpha | Login page | 2026-01-18T16:00:00Z\n',
  );
  writeJson(path.join(root, 'projects.json'), {
    projects: [
      { name: 'alpha', path: 'alpha' },
      { name: 'Beta Service', path: 'beta', id: 'beta' },
    ],
  });
  return { root, alpha, beta, projects: path.join(root, 'projects.json') };
}

// ------------------------------------------------------ page instrumentation

// Runs in the page before the app: records, on the page's clock
// (performance.timeOrigin + performance.now(), ms since the Unix epoch), when
// each row / row status first enters the DOM and the frame after it, every
// colour of the status dot, every toast, every flash and any "Loading…".
function instrument() {
  const now = () => performance.timeOrigin + performance.now();
  const e2e = (window.__e2e = { rows: {}, painted: {}, statuses: {}, colors: [], toasts: [], flashes: {}, placeholders: [], received: {} });
  // When each plan_added frame reaches the page (before the app sees it),
  // with the watcher's own times from the event, for the latency breakdown.
  const Native = window.WebSocket;
  window.WebSocket = class extends Native {
    constructor(...a) {
      super(...a);
      this.addEventListener('message', (e) => {
        const t = now();
        try {
          const m = JSON.parse(e.data);
          if (m.type === 'plan_added' && m.feature_name && !(m.feature_name in e2e.received))
            e2e.received[m.feature_name] = { t, first: Date.parse(m.timestamp), published: Date.parse(m.published) };
        } catch {
          /* not ours to judge */
        }
      });
    }
  };
  const row = (tr) => {
    const f = tr.getAttribute('data-feature');
    if (!f) return;
    const t = now();
    if (!(f in e2e.rows)) {
      e2e.rows[f] = t;
      requestAnimationFrame(() => {
        e2e.painted[f] = now();
      });
    }
    const k = `${f}|${tr.getAttribute('data-status')}`;
    if (!(k in e2e.statuses)) e2e.statuses[k] = t;
    if (tr.classList.contains('flash') && !(f in e2e.flashes)) e2e.flashes[f] = t;
  };
  const visit = (n) => {
    if (n.nodeType !== 1) return;
    const all = [n, ...n.querySelectorAll('tr[data-feature], .toast, .status, .placeholder')];
    for (const el of all) {
      if (el.matches('tr[data-feature]')) row(el);
      else if (el.matches('.toast')) e2e.toasts.push({ kind: el.dataset.kind, text: el.textContent, t: now() });
      else if (el.matches('.status')) e2e.colors.push({ color: el.dataset.color, t: now() });
      else if (el.matches('.placeholder')) e2e.placeholders.push({ text: el.textContent, t: now() });
    }
  };
  new MutationObserver((muts) => {
    for (const m of muts) {
      if (m.type === 'childList') m.addedNodes.forEach(visit);
      else if (m.target.nodeType === 1) {
        const el = m.target;
        if (el.matches('tr[data-feature]')) row(el);
        else if (el.matches('.status') && m.attributeName === 'data-color') e2e.colors.push({ color: el.dataset.color, t: now() });
      }
    }
  }).observe(document, { subtree: true, childList: true, attributes: true, attributeFilter: ['data-status', 'data-color', 'class'] });
}

// ------------------------------------------------------------------ main

async function main() {
  fs.rmSync(OUT, { recursive: true, force: true });
  fs.mkdirSync(OUT, { recursive: true });
  assert.ok(fs.existsSync(path.join(DIST, 'index.html')), 'web/dist is missing: run `npm run build` first');

  const ws = makeWorkspace();
  log('workspace', ws.root);
  const [pubPort, snapPort, whttpPort, gwPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const base = `http://127.0.0.1:${gwPort}`;

  let watcher = null;
  let gateway;
  if (BACKEND === 'real') {
    const bin = findBinaries();
    log('binaries:', bin.watcher, bin.gateway);
    watcher = new Service('watcher-svc', bin.watcher, [
      '--projects', ws.projects,
      '--pub', `tcp://127.0.0.1:${pubPort}`,
      '--snapshot', `tcp://127.0.0.1:${snapPort}`,
      '--http', `127.0.0.1:${whttpPort}`,
      // Durable state: a restarted watcher keeps its epoch (step 5c).
      '--state-dir', path.join(ws.root, 'watcher-state'),
    ]);
    gateway = new Service('gateway-svc', bin.gateway, [
      '--feed', `tcp://127.0.0.1:${pubPort}`,
      '--snapshot', `tcp://127.0.0.1:${snapPort}`,
      '--listen', `127.0.0.1:${gwPort}`,
      '--static-dir', DIST,
      // Pings every second, so the client's heartbeat watchdog (2 intervals)
      // is exercised within the test's time.
      '--ping-ms', String(PING_MS),
    ]);
  } else {
    log('BACKEND=mock: dev/mock-server.mjs, not the real services');
    gateway = new Service('mock-server', process.execPath, [
      path.join(WEB, 'dev/mock-server.mjs'), '--projects', ws.projects, '--listen', `127.0.0.1:${gwPort}`, '--static-dir', DIST,
      '--ping-ms', String(PING_MS),
    ]);
  }

  let browser = null;
  const results = { backend: BACKEND, checks: [] };
  const check = (name, fn) => {
    fn();
    results.checks.push(name);
    log(`ok - ${name}`);
  };

  try {
    if (watcher) {
      watcher.start();
      await waitFor('watcher /healthz', () => httpOk(`http://127.0.0.1:${whttpPort}/healthz`), { timeoutMs: 10000, intervalMs: 50 });
    }
    gateway.start();
    const readyPath = BACKEND === 'real' ? '/readyz' : '/healthz';
    await waitFor(`gateway ${readyPath}`, () => httpOk(base + readyPath), { timeoutMs: 10000, intervalMs: 50 });

    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync',
      ],
    });
    // playwright gives each context a fresh profile (a temp user-data-dir).
    const context = await browser.newContext({ viewport: { width: 1360, height: 860 }, colorScheme: 'light' });
    const page = await context.newPage();
    const consoleErrors = [];
    page.on('console', (m) => {
      if (m.type() === 'error') consoleErrors.push(m.text());
    });
    page.on('pageerror', (e) => consoleErrors.push(String(e)));
    // Document loads (tab changes only touch the hash: same document).
    let navigations = 0;
    page.on('load', () => navigations++);
    await page.addInitScript(instrument);
    const e2e = () => page.evaluate(() => window.__e2e);
    const shot = async (name) => {
      const file = path.join(OUT, name);
      await page.screenshot({ path: file });
      log('screenshot', file);
      return file;
    };
    const color = () => page.getAttribute('.status', 'data-color');

    // ---- 1. open the dashboard: live, data loaded
    const tOpen = Date.now();
    await page.goto(`${base}/#/plans`);
    await page.waitForSelector('.app[data-loaded="true"]', { timeout: 10000 });
    await page.waitForSelector('.status[data-color="green"]', { timeout: 10000 });
    check(`dashboard loads from the gateway and goes green (${Date.now() - tOpen} ms)`, () => {});
    const label = await page.textContent('.status-label');
    check('green label is "Live updates enabled"', () => assert.equal(label.trim(), 'Live updates enabled'));
    await page.waitForSelector('tr[data-feature="login-page"]', { timeout: 5000 });
    await page.waitForSelector('tr[data-feature="search"]', { timeout: 5000 });
    await page.evaluate(() => {
      window.__e2eMarker = 'same-page';
    });
    await shot('01-live.png');

    // ---- 2. a new plan.json appears within 1 s, without a reload
    const planFile = path.join(ws.alpha, 'coderef/working/checkout-flow/plan.json');
    const t0 = nowMs();
    writeJson(planFile, planJson('checkout-flow', 'planning', 'WO-CHECKOUT-FLOW-001'));
    await page.waitForSelector('tr[data-feature="checkout-flow"]', { timeout: 1000 });
    const seen = (await e2e()).rows['checkout-flow'];
    check(`new plan row within 1 s (${Math.round(seen - t0)} ms)`, () => assert.ok(seen - t0 < 1000));
    const marker = await page.evaluate(() => window.__e2eMarker);
    check('no reload: same document', () => assert.equal(marker, 'same-page', 'the page was reloaded'));
    const flashed = await waitFor('row highlight', async () => (await e2e()).flashes['checkout-flow'], { timeoutMs: 1000 });
    check('the new row is highlighted', () => assert.ok(flashed));
    await shot('02-plan-added.png');

    // ---- 3. edit it (editor-style atomic save): its status changes in place
    const t1 = nowMs();
    atomicWriteJson(planFile, planJson('checkout-flow', 'in_progress', 'WO-CHECKOUT-FLOW-001'));
    await page.waitForSelector('tr[data-feature="checkout-flow"][data-status="in_progress"]', { timeout: 1000 });
    const seenStatus = (await e2e()).statuses['checkout-flow|in_progress'];
    check(`status change shown within 1 s (${Math.round(seenStatus - t1)} ms)`, () => assert.ok(seenStatus - t1 < 1000));
    const rowsForFeature = await page.locator('tr[data-feature="checkout-flow"]').count();
    check('edit updated the row in place (one row for the feature)', () => assert.equal(rowsForFeature, 1));
    await shot('03-plan-updated.png');

    // ---- 4. stop the gateway: red dot, one toast, red while retries fail
    const beforeStop = (await e2e()).toasts.length;
    const colorsBefore = (await e2e()).colors.length;
    await gateway.stop();
    await page.waitForSelector('.status[data-color="red"]', { timeout: 5000 });
    await page.waitForSelector('.toast[data-kind="disconnected"]', { timeout: 2000 });
    const redLabel = await page.textContent('.status-label');
    check('red label is "Disconnected - manual refresh only"', () =>
      assert.equal(redLabel.trim(), 'Disconnected - manual refresh only'),
    );
    const toastText = await page.textContent('.toast[data-kind="disconnected"] .toast-title');
    check('disconnect toast text', () => assert.equal(toastText.trim(), 'Real-time updates disconnected'));
    await shot('04-disconnected.png');
    // Let the retry loop fail a few more times (1 s, 2 s ...): the tooltip
    // counts failed attempts.
    await waitFor(
      '3 failed reconnect attempts',
      async () => /([3-9]|\d\d+) failed attempt/.test((await page.getAttribute('.status', 'title')) ?? ''),
      { timeoutMs: 15000, intervalMs: 100 },
    );

    // Changes made while the gateway is down.
    writeJson(path.join(ws.alpha, 'coderef/working/offline-edit/plan.json'), planJson('offline-edit', 'planning', 'WO-OFFLINE-EDIT-001'));
    atomicWriteJson(planFile, planJson('checkout-flow', 'blocked', 'WO-CHECKOUT-FLOW-001'));
    await waitFor(
      '4 failed reconnect attempts',
      async () => /([4-9]|\d\d+) failed attempt/.test((await page.getAttribute('.status', 'title')) ?? ''),
      { timeoutMs: 15000, intervalMs: 100 },
    );
    {
      const s = await e2e();
      const during = s.colors.slice(colorsBefore);
      const firstRed = during.findIndex((c) => c.color === 'red');
      const afterRed = during.slice(firstRed).map((c) => c.color);
      check(`dot stayed red through the retry loop (${during.map((c) => c.color).join(' -> ')})`, () => {
        assert.ok(firstRed >= 0);
        assert.ok(afterRed.every((c) => c === 'red'), `colours after red: ${afterRed.join(',')}`);
      });
      const toasts = s.toasts.slice(beforeStop);
      check(`exactly one toast while down (${toasts.map((t) => t.kind).join(',')})`, () => {
        assert.equal(toasts.length, 1);
        assert.equal(toasts[0].kind, 'disconnected');
      });
    }
    assert.equal(await color(), 'red');
    await shot('05-still-down.png');

    // ---- 5. start it again: green, one toast, the changes made meanwhile
    const toastsBeforeUp = (await e2e()).toasts.length;
    gateway.start();
    // The next retry is at most 16 s away at this point of the schedule.
    await page.waitForSelector('.status[data-color="green"]', { timeout: 40000 });
    await page.waitForSelector('.toast[data-kind="reconnected"]', { timeout: 2000 });
    const upText = await page.textContent('.toast[data-kind="reconnected"] .toast-title');
    check('reconnect toast text', () => assert.equal(upText.trim(), 'Real-time updates connected'));
    await page.waitForSelector('tr[data-feature="offline-edit"]', { timeout: 3000 });
    await page.waitForSelector('tr[data-feature="checkout-flow"][data-status="blocked"]', { timeout: 3000 });
    check('changes made while the gateway was down are shown', () => {});
    await shot('06-reconnected.png');
    {
      const s = await e2e();
      const toasts = s.toasts.slice(toastsBeforeUp);
      check(`exactly one toast on reconnect (${toasts.map((t) => t.kind).join(',')})`, () => {
        assert.equal(toasts.length, 1);
        assert.equal(toasts[0].kind, 'reconnected');
      });
    }

    // Clock check: the page's clock and ours are both the system clock
    // (timeOrigin + monotonic); measure their offset over a few round trips.
    const offsets = [];
    for (let i = 0; i < 7; i++) {
      const a = nowMs();
      const p = await page.evaluate(() => performance.timeOrigin + performance.now());
      const b = nowMs();
      offsets.push({ offset: p - (a + b) / 2, halfRtt: (b - a) / 2 });
    }
    offsets.sort((x, y) => x.halfRtt - y.halfRtt);
    const clock0 = offsets[0]; // the tightest round trip
    log(`page clock - test clock = ${clock0.offset.toFixed(2)} ms (±${clock0.halfRtt.toFixed(2)} ms)`);

    // ---- 5b. heartbeat watchdog: a frozen gateway (SIGSTOP) keeps the TCP
    // connection open but stops pinging; the client must notice within two
    // ping intervals although the socket still says open.
    {
      // First: live for 3 ping intervals with no false alarm.
      const mark = (await e2e()).colors.length;
      const tQuiet = nowMs();
      await waitFor('3 ping intervals', async () => nowMs() - tQuiet > 3 * PING_MS, { timeoutMs: 5000, intervalMs: 100 });
      const quiet = (await e2e()).colors.slice(mark).map((c) => c.color);
      check(`no false alarm over 3 ping intervals (${quiet.join(',') || 'no change'})`, () => assert.deepEqual(quiet, []));

      const pid = gateway.proc.pid;
      const mark2 = (await e2e()).colors.length;
      const tFreeze = nowMs();
      process.kill(pid, 'SIGSTOP');
      try {
        await page.waitForSelector('.status[data-color="amber"]', { timeout: 2 * PING_MS + 2500 });
      } finally {
        process.kill(pid, 'SIGCONT');
      }
      const amber = (await e2e()).colors.slice(mark2).find((c) => c.color === 'amber');
      const detectMs = amber.t - clock0.offset - tFreeze;
      check(`frozen gateway detected by the heartbeat watchdog after ${Math.round(detectMs)} ms (limit ${2 * PING_MS} ms after the last ping)`, () => {
        assert.ok(detectMs >= PING_MS - 100, 'detected before any ping could have been missed');
        assert.ok(detectMs <= 2 * PING_MS + 1500);
      });
      await page.waitForSelector('.status[data-color="green"]', { timeout: 20000 });
      check('back to green once the gateway runs again', () => {});
      await page.waitForSelector('tr[data-feature="checkout-flow"][data-status="blocked"]', { timeout: 2000 });
    }

    // ---- 5c. restart the watcher on its saved state with 3 changes made
    // while it was down: a plain-words notice, no reload, no REST refetch.
    if (watcher) {
      let restRequests = 0;
      const countRest = (r) => {
        if (new URL(r.url()).pathname.startsWith('/orchestrator/') && r.resourceType() !== 'websocket') restRequests++;
      };
      page.on('request', countRest);
      const toastsBefore = (await e2e()).toasts.length;
      await watcher.stop();
      for (const f of ['restart-a', 'restart-b', 'restart-c'])
        writeJson(path.join(ws.alpha, `coderef/working/${f}/plan.json`), planJson(f, 'planning', `WO-${f.toUpperCase()}-001`));
      watcher.start();
      await page.waitForSelector('.toast[data-kind="watcher"]', { timeout: 15000 });
      const text = (await page.textContent('.toast[data-kind="watcher"] .toast-title')).trim();
      check(`watcher restart notice: "${text}"`, () =>
        assert.equal(text, 'Watcher restarted — 3 changes made meanwhile applied'),
      );
      for (const f of ['restart-a', 'restart-b', 'restart-c'])
        await page.waitForSelector(`tr[data-feature="${f}"]`, { timeout: 1000 });
      check('the 3 changes made while the watcher was down are shown', () => {});
      await page.waitForSelector('.status[data-color="green"]', { timeout: 5000 });
      const marker2 = await page.evaluate(() => window.__e2eMarker);
      page.off('request', countRest);
      check(`no reload and no REST refetch on a watcher restart (${restRequests} REST requests)`, () => {
        assert.equal(marker2, 'same-page');
        assert.equal(restRequests, 0);
      });
      const kinds = (await e2e()).toasts.slice(toastsBefore).map((t) => t.kind);
      check(`one toast for the restart (${kinds.join(',')})`, () => assert.deepEqual(kinds, ['watcher']));
      await shot('06c-watcher-restarted.png');
    }

    // ---- 6. latency: save -> row in the page, 20 saves
    const clock = clock0;
    const samples = [];
    for (let i = 1; i <= SAVES; i++) {
      const feature = `latency-${String(i).padStart(2, '0')}`;
      const file = path.join(ws.alpha, `coderef/working/${feature}/plan.json`);
      const body = JSON.stringify(planJson(feature, 'planning', `WO-LATENCY-${i}`), null, 2);
      fs.mkdirSync(path.dirname(file), { recursive: true });
      const tWrite = nowMs(); // just before the save
      fs.writeFileSync(file, body);
      const tWritten = nowMs();
      await page.waitForSelector(`tr[data-feature="${feature}"]`, { timeout: 3000 });
      const painted = await waitFor('paint time', async () => page.evaluate((f) => window.__e2e.painted[f], feature), { timeoutMs: 2000 });
      const inDom = await page.evaluate((f) => window.__e2e.rows[f], feature);
      const rx = await page.evaluate((f) => window.__e2e.received[f], feature);
      const pageT = (t) => t - clock.offset; // page clock -> test clock
      samples.push({
        feature,
        write_ms: +(tWritten - tWrite).toFixed(2),
        dom_ms: +(pageT(inDom) - tWrite).toFixed(1),
        frame_ms: +(pageT(painted) - tWrite).toFixed(1),
        // breakdown (the watcher's times are whole ms)
        save_to_first_change_ms: rx ? +(rx.first - tWrite).toFixed(1) : null,
        first_change_to_published_ms: rx ? +(rx.published - rx.first).toFixed(1) : null,
        published_to_page_ms: rx ? +(pageT(rx.t) - rx.published).toFixed(1) : null,
        page_to_dom_ms: rx ? +(inDom - rx.t).toFixed(1) : null,
      });
    }
    const pct = (xs, p) => {
      const s = [...xs].sort((a, b) => a - b);
      const k = (s.length - 1) * p;
      const lo = Math.floor(k);
      return +(s[lo] + (s[Math.ceil(k)] - s[lo]) * (k - lo)).toFixed(1);
    };
    const frames = samples.map((s) => s.frame_ms);
    const doms = samples.map((s) => s.dom_ms);
    const latency = {
      what: 'time from the test starting a plan.json save (new feature folder already created) to the first animation frame after its row entered the Plans table DOM, clocks aligned by round trips',
      backend: BACKEND,
      saves: samples.length,
      p50_ms: pct(frames, 0.5),
      p90_ms: pct(frames, 0.9),
      min_ms: Math.min(...frames),
      max_ms: Math.max(...frames),
      dom_p50_ms: pct(doms, 0.5),
      breakdown_p50_ms: Object.fromEntries(
        ['save_to_first_change_ms', 'first_change_to_published_ms', 'published_to_page_ms', 'page_to_dom_ms'].map((k) => {
          const xs = samples.map((x) => x[k]).filter((v) => typeof v === 'number' && !Number.isNaN(v));
          return [k, xs.length ? pct(xs, 0.5) : null];
        }),
      ),
      clock_offset_ms: +clock.offset.toFixed(2),
      clock_uncertainty_ms: +clock.halfRtt.toFixed(2),
      samples,
    };
    fs.writeFileSync(path.join(OUT, 'latency.json'), JSON.stringify(latency, null, 2));
    log(`latency over ${samples.length} saves: p50 ${latency.p50_ms} ms, p90 ${latency.p90_ms} ms, max ${latency.max_ms} ms`);
    log('p50 breakdown:', JSON.stringify(latency.breakdown_p50_ms));
    check(`every save visible within 1 s (max ${latency.max_ms} ms)`, () => assert.ok(latency.max_ms < 1000));
    await shot('07-after-latency-run.png');

    // ---- 6b. no scroll jump: scrolled down, a row inserted above the view
    // leaves what the user looks at where it was.
    await page.setViewportSize({ width: 1360, height: 480 });
    await page.evaluate(() => window.scrollTo(0, document.documentElement.scrollHeight));
    const anchor = page.locator('tr[data-feature="latency-03"]');
    await anchor.scrollIntoViewIfNeeded();
    const before = { y: (await anchor.boundingBox()).y, scrollY: await page.evaluate(() => window.scrollY) };
    writeJson(path.join(ws.alpha, 'coderef/working/scroll-check/plan.json'), planJson('scroll-check', 'planning', 'WO-SCROLL-001'));
    await page.waitForSelector('tr[data-feature="scroll-check"]', { state: 'attached', timeout: 2000 });
    await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
    const after = { y: (await anchor.boundingBox()).y, scrollY: await page.evaluate(() => window.scrollY) };
    check(`no scroll jump: a row inserted above kept the visible row in place (y ${before.y} -> ${after.y}, scrollY ${before.scrollY} -> ${after.scrollY})`, () => {
      assert.ok(before.scrollY > 0, 'the page was not scrolled');
      assert.ok(Math.abs(after.y - before.y) <= 2);
    });
    await page.setViewportSize({ width: 1360, height: 860 });
    await page.evaluate(() => window.scrollTo(0, 0));

    // ---- 7. other tabs, keyboard navigation, no Loading flash, no reload
    await page.focus('#tab-plans');
    await page.keyboard.press('ArrowRight');
    const selected = await page.getAttribute('#tab-stubs', 'aria-selected');
    const focused = await page.evaluate(() => document.activeElement?.id);
    check('ArrowRight selects and focuses the Stubs tab', () => {
      assert.equal(selected, 'true');
      assert.equal(focused, 'tab-stubs');
    });
    await page.waitForSelector('tr[data-feature="dark-mode"]', { timeout: 2000 });
    await shot('08-stubs.png');
    await page.keyboard.press('ArrowRight');
    assert.equal(await page.getAttribute('#tab-workorders', 'aria-selected'), 'true');
    await page.waitForSelector('tr[data-workorder="WO-SEARCH-001"]', { timeout: 2000 });
    // a new log line arrives live
    fs.appendFileSync(path.join(ws.beta, 'coderef/workorder-log.txt'), 'WO-E2E-LOG-009 | beta | Added by the e2e test | 2026-01-21T08:00:00Z\n');
    await page.waitForSelector('tr[data-workorder="WO-E2E-LOG-009"]', { timeout: 2000 });
    check('a new workorder-log line appears live', () => {});
    await shot('09-workorders.png');
    await page.keyboard.press('End');
    assert.equal(await page.getAttribute('#tab-projects', 'aria-selected'), 'true');
    await shot('10-projects.png');
    await page.keyboard.press('Home');
    assert.equal(await page.getAttribute('#tab-overview', 'aria-selected'), 'true');
    await shot('11-overview.png');
    await page.emulateMedia({ colorScheme: 'dark' });
    await shot('12-overview-dark.png');
    await page.emulateMedia({ colorScheme: 'light' });
    check('Home/End/Arrow keys move between tabs', () => {});

    const s = await e2e();
    const firstLoad = s.colors.length ? s.colors[0].t : 0;
    check('no "Loading…" after the first load', () =>
      assert.equal(s.placeholders.filter((p) => p.t > firstLoad + 2000).length, 0, JSON.stringify(s.placeholders)),
    );
    const stillSame = await page.evaluate(() => window.__e2eMarker);
    check('no page reload during the whole test', () => {
      assert.equal(navigations, 1);
      assert.equal(stillSame, 'same-page');
    });
    const realErrors = consoleErrors.filter((e) => !/WebSocket connection to .* failed|ERR_CONNECTION_REFUSED|Failed to load resource/.test(e));
    check('no unexpected console errors', () => assert.deepEqual(realErrors, []));

    results.latency = { p50_ms: latency.p50_ms, p90_ms: latency.p90_ms, max_ms: latency.max_ms };
    results.ok = true;
  } catch (e) {
    results.ok = false;
    results.error = String(e.stack || e);
    console.error(e);
    try {
      const pages = browser?.contexts()[0]?.pages() ?? [];
      if (pages[0]) await pages[0].screenshot({ path: path.join(OUT, 'failure.png') });
    } catch {
      /* best effort */
    }
  } finally {
    await browser?.close().catch(() => {});
    await gateway.stop().catch(() => {});
    await watcher?.stop().catch(() => {});
    fs.writeFileSync(path.join(OUT, 'result.json'), JSON.stringify(results, null, 2));
    if (results.ok) fs.rmSync(ws.root, { recursive: true, force: true });
    else log('workspace kept for inspection:', ws.root);
  }
  log(results.ok ? `PASS (${results.checks.length} checks)` : 'FAIL');
  process.exit(results.ok ? 0 : 1);
}

main();
