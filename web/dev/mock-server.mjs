#!/usr/bin/env node
// Dev-only stand-in for watcher-svc + gateway-svc, speaking docs/PROTOCOL.md
// (REST items, WebSocket hello/events/ping/resume/resync) closely enough to
// develop and smoke-test the dashboard before the real services exist. It
// polls the workspace every 50 ms instead of using inotify. NOT the product:
// the E2E test runs against the real binaries unless E2E_BACKEND=mock.
//
//   node dev/mock-server.mjs --projects /tmp/ws/projects.json \
//        --listen 127.0.0.1:8000 --static-dir dist [--ping-ms 30000]

import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { WebSocketServer } from 'ws';

const args = Object.fromEntries(
  process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith('--') ? [...acc, [a.slice(2), all[i + 1]]] : acc), []),
);
const projectsFile = path.resolve(args.projects ?? 'projects.json');
const [host, port] = (args.listen ?? '127.0.0.1:8000').split(':');
const staticDir = args['static-dir'] ? path.resolve(args['static-dir']) : null;
const pingMs = Number(args['ping-ms'] ?? 30000);

const epoch = randomBytes(8).toString('hex');
let seq = 0;
const history = []; // last events, for resume
const items = new Map(); // topicKey -> { item, hash }
const clients = new Set();

const log = (...a) => console.error('[mock]', ...a);
const slug = (s) => s.toLowerCase().replace(/[^a-z0-9._-]+/g, '-');
const iso = (ms) => new Date(ms).toISOString();

function readJson(file) {
  try {
    return { json: JSON.parse(readFileSync(file, 'utf8')), error: null };
  } catch (e) {
    return { json: null, error: e.message };
  }
}

function baseItem(kind, project, rel, file, feature, location) {
  const st = statSync(file);
  return {
    kind,
    key: rel,
    project: project.id,
    project_name: project.name,
    file_path: rel,
    feature_name: feature,
    location,
    last_modified: iso(st.mtimeMs),
    valid: true,
    parse_error: null,
    size_bytes: st.size,
    text_omitted: false,
  };
}

function scanProject(project, out) {
  const root = project.path;
  const cr = path.join(root, 'coderef');
  const dirs = [
    ['working', ['plan.json', 'stub.json', 'communication.json']],
    ['archived', ['plan.json', 'stub.json', 'communication.json']],
    ['stubs', ['stub.json']],
  ];
  for (const [location, names] of dirs) {
    const d = path.join(cr, location);
    if (!existsSync(d)) continue;
    for (const feature of readdirSync(d)) {
      for (const name of names) {
        const file = path.join(d, feature, name);
        if (!existsSync(file)) continue;
        const rel = `coderef/${location}/${feature}/${name}`;
        const raw = readFileSync(file, 'utf8');
        const { json, error } = readJson(file);
        const kind = name === 'plan.json' ? 'plan' : name === 'stub.json' ? 'stub' : 'workorder';
        const it = baseItem(kind, project, rel, file, feature, location);
        if (error) Object.assign(it, { valid: false, parse_error: error });
        if (kind === 'plan') {
          const meta = json?.META_DOCUMENTATION ?? json ?? {};
          it.feature_name = meta.feature_name ?? feature;
          it.status = meta.status ?? 'unknown';
          it.workorder_id =
            meta.workorder_id ?? json?.UNIVERSAL_PLANNING_STRUCTURE?.['5_task_id_system']?.workorder?.id ?? '';
        } else if (kind === 'stub') {
          for (const k of ['description', 'category', 'priority', 'created', 'status', 'stub_id'])
            it[k] = json?.[k] ?? '';
          it.feature_name = json?.feature_name ?? feature;
        } else {
          const h = json?.handoff;
          if (!h && !error) continue;
          Object.assign(it, {
            source: 'handoff',
            workorder_id: h?.workorder_id ?? '',
            feature_name: h?.feature_name ?? feature,
            status: h?.status ?? 'unknown',
            type: h?.type ?? '',
            from: h?.from ?? '',
            to: h?.to ?? '',
            initiated_at: h?.initiated_at ?? '',
          });
        }
        out.set(`${kind}/${project.id}/${rel}`, { item: it, hash: createHash('sha1').update(raw).digest('hex') });
      }
    }
  }
  const logFile = path.join(cr, 'workorder-log.txt');
  if (existsSync(logFile)) {
    const lines = readFileSync(logFile, 'utf8').split('\n');
    const seen = new Map();
    lines.forEach((line, i) => {
      const l = line.trim();
      if (!l.startsWith('WO-')) return;
      const parts = l.split('|').map((s) => s.trim());
      const h = createHash('sha1').update(l).digest('hex').slice(0, 8);
      let key = `coderef/workorder-log.txt#${parts[0]}#${h}`;
      const n = (seen.get(key) ?? 0) + 1;
      seen.set(key, n);
      if (n > 1) key += `#${n}`;
      out.set(`workorder/${project.id}/${key}`, {
        hash: h,
        item: {
          kind: 'workorder',
          key,
          project: project.id,
          project_name: project.name,
          file_path: 'coderef/workorder-log.txt',
          feature_name: '',
          location: '',
          last_modified: iso(statSync(logFile).mtimeMs),
          valid: true,
          parse_error: null,
          source: 'log',
          workorder_id: parts[0],
          status: '',
          description: parts[2] ?? '',
          timestamp: parts[3] ?? null,
          line: l,
          line_number: i + 1,
        },
      });
    });
  }
}

function scan() {
  const out = new Map();
  const { json } = readJson(projectsFile);
  for (const p of json?.projects ?? []) {
    const id = p.id ?? slug(p.name);
    const abs = path.resolve(path.dirname(projectsFile), p.path);
    const project = { id, name: p.name, path: abs };
    const exists = existsSync(abs);
    out.set(`project/${id}/`, {
      hash: JSON.stringify([p.name, abs, exists]),
      item: {
        kind: 'project', key: id, project: id, id, name: p.name, path: abs, exists,
        has_coderef: existsSync(path.join(abs, 'coderef')), file_path: '', feature_name: '', location: '',
      },
    });
    if (exists) scanProject(project, out);
  }
  return out;
}

function publish(type, entry, topicKey) {
  const it = entry?.item;
  const [kind, project, ...rest] = topicKey.split('/');
  const key = rest.join('/');
  const now = Date.now();
  const ev = {
    type, epoch, seq: ++seq, project,
    feature_name: it?.feature_name ?? '', location: it?.location ?? '',
    file_path: it?.file_path ?? key.split('#')[0], key: kind === 'project' ? project : key,
    timestamp: iso(now), published: iso(now),
  };
  if (it) ev.item = it;
  history.push(ev);
  if (history.length > 10000) history.shift();
  const frame = JSON.stringify(ev);
  for (const c of clients) if (c.live) c.ws.send(frame);
}

function tick() {
  let next;
  try {
    next = scan();
  } catch (e) {
    log('scan failed', e.message);
    return;
  }
  for (const [k, v] of next) {
    const old = items.get(k);
    const kind = k.split('/')[0];
    if (!old) publish(`${kind}_added`, v, k);
    else if (old.hash !== v.hash) publish(`${kind}_updated`, v, k);
  }
  for (const [k] of items) {
    if (!next.has(k)) publish(k.startsWith('project/') ? 'project_removed' : `${k.split('/')[0]}_deleted`, null, k);
  }
  items.clear();
  for (const [k, v] of next) items.set(k, v);
}

// ---- HTTP ----
function list(kind, filter = () => true) {
  return [...items.entries()].filter(([k]) => k.startsWith(`${kind}/`)).map(([, v]) => v.item).filter(filter);
}

function send(res, code, body) {
  res.writeHead(code, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ ...body, epoch, seq }));
}

const MIME = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.svg': 'image/svg+xml', '.map': 'application/json' };

const server = http.createServer((req, res) => {
  const u = new URL(req.url, `http://${req.headers.host}`);
  const q = (k) => u.searchParams.get(k) ?? '';
  const byProject = (i) => !q('project') || i.project === q('project');
  switch (u.pathname) {
    case '/healthz': return send(res, 200, { status: 'ok' });
    case '/orchestrator/projects': return send(res, 200, { projects: list('project') });
    case '/orchestrator/plans': return send(res, 200, { plans: list('plan', (i) => byProject(i) && (!q('location') || i.location === q('location'))) });
    case '/orchestrator/stubs': return send(res, 200, { stubs: list('stub', byProject) });
    case '/orchestrator/workorders': return send(res, 200, { workorders: list('workorder', (i) => byProject(i) && i.source === 'handoff') });
    case '/orchestrator/workorder-log': {
      const all = list('workorder', (i) => byProject(i) && i.source === 'log').sort((a, b) => b.line_number - a.line_number);
      return send(res, 200, { entries: all.slice(0, Number(q('limit') || 100)), total: all.length });
    }
    case '/orchestrator/stats': return send(res, 200, { plans: list('plan').length, stubs: list('stub').length });
  }
  if (staticDir) {
    const rel = u.pathname === '/' ? 'index.html' : u.pathname.slice(1);
    const file = path.join(staticDir, path.normalize(rel));
    if (file.startsWith(staticDir) && existsSync(file) && statSync(file).isFile()) {
      res.writeHead(200, { 'content-type': MIME[path.extname(file)] ?? 'application/octet-stream' });
      return createReadStream(file).pipe(res);
    }
  }
  send(res, 404, { error: 'not found' });
});

const wss = new WebSocketServer({ noServer: true });
server.on('upgrade', (req, sock, head) => {
  const u = new URL(req.url, `http://${req.headers.host}`);
  if (u.pathname !== '/orchestrator/ws') return sock.destroy();
  wss.handleUpgrade(req, sock, head, (ws) => {
    const c = { ws, live: false };
    clients.add(c);
    const since = u.searchParams.get('since');
    const e = u.searchParams.get('epoch');
    if (e && since !== null && e === epoch) {
      const missed = history.filter((h) => h.seq > Number(since));
      const inHistory = Number(since) >= (history[0]?.seq ?? 1) - 1 || Number(since) === seq;
      ws.send(JSON.stringify({ type: 'hello', epoch, seq, ping_ms: pingMs, replayed: inHistory ? missed.length : 0, gateway: 'mock' }));
      if (inHistory) for (const m of missed) ws.send(JSON.stringify(m));
      else ws.send(JSON.stringify({ type: 'resync_required', reason: 'history_gap', epoch, seq }));
    } else {
      ws.send(JSON.stringify({ type: 'hello', epoch, seq, ping_ms: pingMs, replayed: 0, gateway: 'mock' }));
      if (e) ws.send(JSON.stringify({ type: 'resync_required', reason: 'epoch_changed', epoch, seq }));
    }
    c.live = true;
    const ping = setInterval(() => ws.send(JSON.stringify({ type: 'ping', ts: Date.now() })), pingMs);
    ws.on('message', (d) => {
      try {
        const m = JSON.parse(String(d));
        if (m.type === 'ping') ws.send(JSON.stringify({ type: 'pong' }));
      } catch {
        ws.close(1003, 'not JSON');
      }
    });
    ws.on('close', () => {
      clearInterval(ping);
      clients.delete(c);
    });
  });
});

// Initial state without events, then poll.
for (const [k, v] of scan()) items.set(k, v);
setInterval(tick, 50);
server.listen(Number(port), host, () => log(`listening on http://${host}:${port} epoch ${epoch}`));
const stop = () => {
  for (const c of clients) c.ws.close(1001, 'shutting down');
  server.close();
  setTimeout(() => process.exit(0), 50);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
