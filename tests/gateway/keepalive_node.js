// Node's http client with a keep-alive agent (one socket) making the
// dashboard's first requests against a gateway: prints one line per request
// ("<status> <local port> <reused>") and exits 0 only if every request got
// 200 on the one reused connection. Usage: node keepalive_node.js PORT
'use strict';
const http = require('http');

const port = Number(process.argv[2]);
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
const paths = ['/readyz', '/', '/', '/index.html', '/orchestrator/stats', '/'];

function get(path) {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () =>
        resolve({ path, status: res.statusCode, port: req.socket.localPort, reused: req.reusedSocket }));
    });
    req.on('error', (e) => reject(new Error(`${path}: ${e.message}`)));
  });
}

(async () => {
  const results = [];
  for (const p of paths) {
    // A turn of the event loop between requests, as a page's scripts would:
    // the agent has put the socket back in its free pool by then.
    await new Promise((r) => setImmediate(r));
    results.push(await get(p));
  }
  let ok = true;
  for (const r of results) {
    console.log(`${r.path} ${r.status} ${r.port} ${r.reused}`);
    if (r.status !== 200 || r.port !== results[0].port) ok = false;
  }
  if (results.slice(1).some((r) => !r.reused)) ok = false;
  agent.destroy();
  process.exit(ok ? 0 : 1);
})().catch((e) => {
  console.log(`error ${e.message}`);
  process.exit(1);
});
