// Real reverse proxies for the forward-auth browser test: Debian's nginx and Caddy, started from
// the configurations the README tells users to copy (deploy/forward-auth/nginx.conf and
// Caddyfile, placeholders filled as the README says), and a small upstream app that shows the
// headers it receives. Everything listens on 127.0.0.1 on free ports; each process is stopped
// by its own PID.

import { spawn } from 'node:child_process';
import { existsSync, createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export const PROXY_BINARIES = {
  nginx: ['/usr/sbin/nginx', '/usr/bin/nginx'],
  caddy: ['/usr/bin/caddy', '/usr/local/bin/caddy'],
};

/** The proxy's binary, or null when it is not installed. */
export function proxyBinary(kind) {
  return PROXY_BINARIES[kind].find((candidate) => existsSync(candidate)) ?? null;
}

/** A port nothing listens on right now. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

const escapeHtml = (text) => String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/**
 * The protected app: a page that greets the user Latchkey named in Remote-User, and JSON for
 * /api/ paths; `hits` counts the requests that reached it.
 */
export async function startUpstream() {
  const upstream = { hits: 0, port: 0 };
  const server = http.createServer((req, res) => {
    upstream.hits += 1;
    const seen = { method: req.method, url: req.url, headers: req.headers };
    if (req.url.startsWith('/api/')) {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(seen));
      return;
    }
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
    res.end(`<!doctype html><html lang="en"><head><title>Protected app</title>
<link rel="icon" href="data:,"></head><body>
<h1 id="who">Hello, ${escapeHtml(req.headers['remote-user'] ?? 'nobody')}</h1>
<p id="user-id">${escapeHtml(req.headers['remote-user-id'] ?? '')}</p>
<p id="path">${escapeHtml(req.url)}</p></body></html>`);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  upstream.port = server.address().port;
  upstream.stop = () => new Promise((resolve) => {
    server.closeAllConnections?.();
    server.close(resolve);
  });
  return upstream;
}

/** GET http://127.0.0.1:port/path with a Host header: {status, body}, or null when refused. */
function getLocal(port, host, pathname) {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: pathname, headers: { Host: host } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => { body += chunk; });
      res.on('end', () => resolve({ status: res.statusCode, body }));
    });
    req.on('error', () => resolve(null));
  });
}

function fill(template, values) {
  let text = template;
  for (const [name, value] of Object.entries(values)) text = text.split(name).join(value);
  const left = text.split('\n').find((line) => !line.trim().startsWith('#') && line.includes('${'));
  if (left) throw new Error(`a placeholder is left unfilled: ${left.trim()}`);
  return text;
}

/**
 * Starts `kind` ('nginx' or 'caddy') on 127.0.0.1:port: the app at http://appHost:port,
 * Latchkey's screens and API at http://authHost:port.
 */
export async function startProxy(kind, { port, appHost, authHost, upstreamPort, latchkeyPort }) {
  const binary = proxyBinary(kind);
  if (!binary) throw new Error(`${kind} is not installed`);
  const dir = await mkdtemp(path.join(tmpdir(), `latchkey-${kind}-`));
  const log = path.join(dir, 'error.log');
  let child;
  if (kind === 'nginx') {
    const site = fill(await readFile(path.join(repoRoot, 'deploy/forward-auth/nginx.conf'), 'utf8'), {
      '${APP_LISTEN}': `127.0.0.1:${port}`,
      '${APP_HOST}': appHost,
      '${APP_UPSTREAM}': `http://127.0.0.1:${upstreamPort}`,
      '${AUTH_LISTEN}': `127.0.0.1:${port}`,
      '${AUTH_HOST}': authHost,
      '${LATCHKEY_UPSTREAM}': `http://127.0.0.1:${latchkeyPort}`,
    });
    await writeFile(path.join(dir, 'site.conf'), site);
    await writeFile(path.join(dir, 'nginx.conf'), [
      'worker_processes 1;',
      `pid ${dir}/nginx.pid;`,
      `error_log ${log} warn;`,
      'events { worker_connections 256; }',
      'http {',
      '  access_log off;',
      ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `  ${t}_temp_path ${dir}/${t};`),
      `  include ${dir}/site.conf;`,
      '}',
      '',
    ].join('\n'));
    child = spawn(binary, ['-e', log, '-p', dir, '-c', path.join(dir, 'nginx.conf'), '-g', 'daemon off;'], {
      stdio: 'ignore',
    });
  } else {
    const site = await readFile(path.join(repoRoot, 'deploy/forward-auth/Caddyfile'), 'utf8');
    const globals = '{\n\tadmin off\n\tauto_https off\n\tdefault_bind 127.0.0.1\n}\n\n';
    await writeFile(path.join(dir, 'Caddyfile'), globals + site);
    child = spawn(binary, ['run', '--adapter', 'caddyfile', '--config', path.join(dir, 'Caddyfile')], {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: {
        ...process.env,
        HOME: dir,
        XDG_DATA_HOME: path.join(dir, 'data'),
        XDG_CONFIG_HOME: path.join(dir, 'config'),
        APP_SITE: `http://${appHost}:${port}`,
        APP_UPSTREAM: `127.0.0.1:${upstreamPort}`,
        AUTH_SITE: `http://${authHost}:${port}`,
        LATCHKEY_UPSTREAM: `127.0.0.1:${latchkeyPort}`,
      },
    });
    child.stderr.pipe(createWriteStream(log));
  }
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const proxy = {
    kind,
    pid: child.pid,
    appUrl: `http://${appHost}:${port}`,
    authUrl: `http://${authHost}:${port}`,
    async log() {
      return readFile(log, 'utf8').catch(() => '');
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        // SIGTERM: nginx's master stops its worker too.
        process.kill(child.pid, 'SIGTERM');
        await exited;
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
  // Ready when Latchkey answers through it (Caddy answers an unknown host with an empty 200).
  const deadline = Date.now() + 20_000;
  for (;;) {
    const health = await getLocal(port, `${authHost}:${port}`, '/api/health');
    if (health?.status === 200 && health.body.includes('"status"')) break;
    if (Date.now() > deadline || child.exitCode !== null) {
      const text = await proxy.log();
      await proxy.stop();
      throw new Error(`${kind} did not come up:\n${text}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return proxy;
}
