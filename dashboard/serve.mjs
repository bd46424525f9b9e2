// Static file server for the dashboard on 127.0.0.1, with node's http
// module only. It serves index.html, app.js, style.css and the mqtt
// browser bundle, and nothing else from the folder.
//
//   node serve.mjs [--port N]     (default 8080; 0 picks a free port)
//
// Prints "Dashboard: http://127.0.0.1:PORT/" once it listens, then one line
// per error. Stops on SIGINT or SIGTERM.

import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const HOST = '127.0.0.1';
const DEFAULT_PORT = 8080;
const ROOT = dirname(fileURLToPath(import.meta.url));

// URL path -> file under ROOT and its content type.
const FILES = new Map([
  ['/', ['index.html', 'text/html; charset=utf-8']],
  ['/index.html', ['index.html', 'text/html; charset=utf-8']],
  ['/app.js', ['app.js', 'text/javascript; charset=utf-8']],
  ['/style.css', ['style.css', 'text/css; charset=utf-8']],
  ['/node_modules/mqtt/dist/mqtt.min.js',
    ['node_modules/mqtt/dist/mqtt.min.js', 'text/javascript; charset=utf-8']],
]);

function parsePort(argv) {
  const index = argv.indexOf('--port');
  const text = index >= 0 ? argv[index + 1] : process.env.PORT;
  if (text === undefined || text === '') {
    return DEFAULT_PORT;
  }
  const port = Number(text);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`invalid port "${text}": expected a whole number from 0 to 65535`);
    process.exit(2);
  }
  return port;
}

function send(response, status, type, body) {
  response.writeHead(status, {
    'Content-Type': type,
    'Cache-Control': 'no-store',
    'X-Content-Type-Options': 'nosniff',
  });
  response.end(body);
}

async function handle(request, response) {
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    send(response, 405, 'text/plain; charset=utf-8', 'method not allowed\n');
    return;
  }
  const path = new URL(request.url, `http://${HOST}`).pathname;
  const entry = FILES.get(path);
  if (!entry) {
    send(response, 404, 'text/plain; charset=utf-8', 'not found\n');
    return;
  }
  const [file, type] = entry;
  try {
    const body = await readFile(join(ROOT, file));
    send(response, 200, type, request.method === 'HEAD' ? undefined : body);
  } catch (error) {
    console.error(`cannot read ${file}: ${error.message}`);
    send(response, 500, 'text/plain; charset=utf-8', `cannot read ${file}; run npm ci in the dashboard folder\n`);
  }
}

const server = createServer((request, response) => {
  handle(request, response).catch((error) => {
    console.error(`request ${request.url} failed: ${error.message}`);
    response.destroy();
  });
});

server.on('error', (error) => {
  console.error(`cannot serve on ${HOST}: ${error.message}`);
  process.exit(1);
});

server.listen(parsePort(process.argv), HOST, () => {
  console.log(`Dashboard: http://${HOST}:${server.address().port}/`);
});

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
  });
}
