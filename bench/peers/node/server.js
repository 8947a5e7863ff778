#!/usr/bin/env node
// The Node.js peer of the benchmarks: what a team would write instead of
// coderef-live. chokidar watches every project's coderef/ folder (from
// projects.json), changes are debounced 500 ms (trailing: a batch is sent
// 500 ms after the last change), and each event is serialized once (one
// Buffer) and sent to every WebSocket client with ws. Events have the same
// JSON shape as gateway-svc's (type, epoch, seq, project, file_path,
// timestamp, item, ...), so the same load client (bench/ws_load) measures
// both. Like gateway-svc it sends a JSON ping and a WebSocket ping to every
// client every --ping-ms and drops clients that do not answer.
//
//   node server.js --projects projects.json --port 8100 [--host 127.0.0.1]
//                  [--debounce-ms 500] [--ping-ms 30000] [--port-file F]
//
// Not covered (not needed by the benchmarks): workorder-log lines, live
// edits of projects.json, REST lists.
'use strict';

const fs = require('fs');
const path = require('path');
const http = require('http');
const crypto = require('crypto');
const chokidar = require('chokidar');
const { WebSocketServer, WebSocket } = require('ws');

function parseArgs(argv) {
  const o = { projects: 'projects.json', host: '127.0.0.1', port: 8100, debounceMs: 500, pingMs: 30000, portFile: '' };
  for (let i = 2; i < argv.length; i++) {
    const [k, inline] = argv[i].split('=', 2);
    const v = inline !== undefined ? inline : argv[++i];
    switch (k) {
      case '--projects': o.projects = v; break;
      case '--host': o.host = v; break;
      case '--port': o.port = Number(v); break;
      case '--debounce-ms': o.debounceMs = Number(v); break;
      case '--ping-ms': o.pingMs = Number(v); break;
      case '--port-file': o.portFile = v; break;
      default: console.error(`unknown flag ${k}`); process.exit(2);
    }
  }
  return o;
}

const opts = parseArgs(process.argv);
const registryFile = path.resolve(opts.projects);
const registryDir = path.dirname(registryFile);
const epoch = crypto.randomBytes(8).toString('hex');
let seq = 0;

function slug(name) {
  return String(name).toLowerCase().replace(/[^a-z0-9._-]+/g, '-').replace(/^-+|-+$/g, '');
}

const projects = JSON.parse(fs.readFileSync(registryFile, 'utf8')).projects.map((p) => ({
  id: p.id || slug(p.name),
  name: p.name,
  root: path.resolve(registryDir, p.path),
}));

// project + relative path from an absolute path, or null.
function locate(abs) {
  for (const p of projects) {
    if (abs.startsWith(p.root + path.sep)) return { project: p, rel: abs.slice(p.root.length + 1).split(path.sep).join('/') };
  }
  return null;
}

// plan / stub / communication.json in coderef/<location>/<feature>/.
const TRACKED = /^coderef\/(working|archived|stubs)\/([^/]+)\/(plan|stub|communication)\.json$/;
function classify(rel) {
  const m = TRACKED.exec(rel);
  if (!m) return null;
  const [, location, feature, file] = m;
  if (location === 'stubs' && file !== 'stub') return null;
  const kind = file === 'plan' ? 'plan' : file === 'stub' ? 'stub' : 'workorder';
  return { kind, location, feature };
}

function buildItem(project, rel, info, text, mtimeMs, size) {
  let doc = null;
  let parseError = null;
  try { doc = JSON.parse(text); } catch (e) { parseError = String(e.message); }
  const item = {
    kind: info.kind, key: rel, project: project.id, project_name: project.name, file_path: rel,
    feature_name: info.feature, location: info.location,
  };
  const meta = (doc && doc.META_DOCUMENTATION) || doc || {};
  if (info.kind === 'plan') {
    if (meta.feature_name) item.feature_name = meta.feature_name;
    item.status = meta.status || 'unknown';
    item.workorder_id = meta.workorder_id || '';
  } else if (info.kind === 'stub') {
    for (const k of ['description', 'category', 'priority', 'created', 'status']) item[k] = (doc && doc[k]) || '';
    item.stub_id = (doc && doc.stub_id) || '';
  } else {
    const h = (doc && doc.handoff) || {};
    item.source = 'handoff';
    item.workorder_id = h.workorder_id || '';
    item.status = h.status || '';
    item.type = h.type || ''; item.from = h.from || ''; item.to = h.to || '';
    item.initiated_at = h.initiated_at || '';
  }
  item.last_modified = new Date(mtimeMs).toISOString();
  item.valid = parseError === null;
  item.parse_error = parseError;
  item.size_bytes = size;
  item.text_omitted = false;
  return item;
}

// Published state: "project\trel" -> { text, item }.
const state = new Map();
const pending = new Set();
let firstChangeMs = 0;
let timer = null;
let ready = false;

function readState(abs) {
  const loc = locate(abs);
  if (!loc) return null;
  const info = classify(loc.rel);
  if (!info) return null;
  let text, st;
  try {
    st = fs.statSync(abs);
    text = fs.readFileSync(abs, 'utf8');
  } catch (e) {
    return { loc, info, gone: true };
  }
  return { loc, info, gone: false, text, item: buildItem(loc.project, loc.rel, info, text, st.mtimeMs, st.size) };
}

function broadcast(buf) {
  for (const ws of wss.clients) if (ws.readyState === WebSocket.OPEN) ws.send(buf, { binary: false });
}

function flush() {
  timer = null;
  const paths = [...pending];
  pending.clear();
  const ts = new Date(firstChangeMs).toISOString();
  firstChangeMs = 0;
  for (const abs of paths) {
    const s = readState(abs);
    if (!s) continue;
    const id = `${s.loc.project.id}\t${s.loc.rel}`;
    const old = state.get(id);
    let type;
    if (s.gone) {
      if (!old) continue;
      state.delete(id);
      type = `${s.info.kind}_deleted`;
    } else if (!old) {
      state.set(id, { text: s.text, item: s.item });
      type = `${s.info.kind}_added`;
    } else if (old.text !== s.text) {
      state.set(id, { text: s.text, item: s.item });
      type = `${s.info.kind}_updated`;
    } else {
      continue;
    }
    const ev = {
      type, epoch, seq: ++seq, kind: s.info.kind, project: s.loc.project.id, project_name: s.loc.project.name,
      feature_name: s.gone ? s.info.feature : s.item.feature_name, location: s.info.location,
      file_path: s.loc.rel, key: s.loc.rel, timestamp: ts, published: new Date().toISOString(),
    };
    if (!s.gone) ev.item = s.item;
    broadcast(Buffer.from(JSON.stringify(ev)));  // serialized once for all clients
  }
}

function onChange(abs) {
  if (!ready) {  // initial scan: state, not events (as watcher-svc)
    const s = readState(abs);
    if (s && !s.gone) state.set(`${s.loc.project.id}\t${s.loc.rel}`, { text: s.text, item: s.item });
    return;
  }
  const loc = locate(abs);
  if (!loc || !classify(loc.rel)) return;
  if (pending.size === 0) firstChangeMs = Date.now();
  pending.add(abs);
  if (timer) clearTimeout(timer);
  timer = setTimeout(flush, opts.debounceMs);
}

const server = http.createServer((req, res) => {
  if (req.url === '/gc') {  // the bench measures live memory, not garbage (node --expose-gc)
    if (global.gc) global.gc();
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ gc: Boolean(global.gc), memory: process.memoryUsage() }));
    return;
  }
  if (req.url === '/healthz') {
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ status: 'ok', ready, items: state.size, seq, clients: wss.clients.size }));
    return;
  }
  res.writeHead(404);
  res.end();
});
const wss = new WebSocketServer({ server, path: '/orchestrator/ws', perMessageDeflate: false });
const pingBuf = () => Buffer.from(JSON.stringify({ type: 'ping', ts: Date.now() }));

wss.on('connection', (ws) => {
  ws.isAlive = true;
  ws.on('pong', () => { ws.isAlive = true; });
  ws.on('message', (data) => {
    ws.isAlive = true;
    let msg;
    try { msg = JSON.parse(data); } catch (e) { ws.close(1003, 'invalid json'); return; }
    if (msg && msg.type === 'ping') ws.send(JSON.stringify({ type: 'pong', ts: Date.now() }));
  });
  ws.send(JSON.stringify({ type: 'hello', epoch, seq, ping_ms: opts.pingMs, replayed: 0, gateway: 'node-peer' }));
});

setInterval(() => {
  if (wss.clients.size === 0) return;
  const buf = pingBuf();
  for (const ws of wss.clients) {
    if (!ws.isAlive) { ws.terminate(); continue; }
    ws.isAlive = false;
    ws.ping();
    ws.send(buf, { binary: false });
  }
}, opts.pingMs);

const roots = projects.map((p) => path.join(p.root, 'coderef'));
const watcher = chokidar.watch(roots, { ignoreInitial: false, depth: 3, persistent: true });
watcher.on('add', onChange).on('change', onChange).on('unlink', onChange);
watcher.on('error', (e) => console.error(`watch error: ${e}`));
const started = Date.now();
watcher.on('ready', () => {
  ready = true;
  server.listen(opts.port, opts.host, 4096, () => {
    const port = server.address().port;
    console.error(`node-peer: ${projects.length} projects, ${state.size} items, ready in ${Date.now() - started} ms, listening on ${opts.host}:${port}`);
    if (opts.portFile) {
      fs.writeFileSync(`${opts.portFile}.tmp`, `${port}\n`);
      fs.renameSync(`${opts.portFile}.tmp`, opts.portFile);
    }
  });
});

for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => {
    for (const ws of wss.clients) ws.terminate();
    watcher.close().finally(() => process.exit(0));
    setTimeout(() => process.exit(0), 1000).unref();
  });
}
