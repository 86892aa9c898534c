// Starts the real Latchkey release binary for a test file: its own temporary SQLite database,
// port 0 (the port is read from the "latchkey listening" log line), the SPA embedded in the
// binary (LATCHKEY_FRONTEND_DIR is removed from the environment), and cheap hashing.

import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export const serverBinary = process.env.LATCHKEY_BIN
  ? path.resolve(process.env.LATCHKEY_BIN)
  : path.join(repoRoot, 'target/release/latchkey');

const STARTUP_TIMEOUT_MS = 20_000;

/**
 * @param {Record<string, string>} [env] extra settings (LATCHKEY_RATE_LIMIT_PER_MINUTE, …)
 * @returns {Promise<{url: string, port: number, pid: number, logs: string[], stop(): Promise<void>}>}
 */
export async function startServer(env = {}) {
  if (!existsSync(serverBinary)) {
    throw new Error(`no server binary at ${serverBinary}: run cargo build --release -p latchkey`);
  }
  const dir = await mkdtemp(path.join(tmpdir(), 'latchkey-e2e-'));
  const childEnv = {
    ...process.env,
    LATCHKEY_BIND: '127.0.0.1:0',
    DATABASE_URL: path.join(dir, 'latchkey.db'),
    LATCHKEY_PBKDF2_ITERATIONS: '1000',
    LATCHKEY_LOG_FORMAT: 'json',
    LATCHKEY_RATE_LIMIT_PER_MINUTE: '0',
    RUST_LOG: 'info',
    ...env,
  };
  // Users run the embedded copy, so that is what is tested. LATCHKEY_E2E_FRONTEND_DIR is a
  // development shortcut (edit HTML/JS/CSS without a rebuild); scripts/e2e never sets it.
  delete childEnv.LATCHKEY_FRONTEND_DIR;
  if (process.env.LATCHKEY_E2E_FRONTEND_DIR) {
    childEnv.LATCHKEY_FRONTEND_DIR = process.env.LATCHKEY_E2E_FRONTEND_DIR;
  }

  const child = spawn(serverBinary, [], { env: childEnv, stdio: ['ignore', 'ignore', 'pipe'] });
  const logs = [];
  const exited = new Promise((resolve) => child.once('exit', resolve));

  const port = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(`server did not start in ${STARTUP_TIMEOUT_MS} ms:\n${logs.join('\n')}`));
    }, STARTUP_TIMEOUT_MS);
    let buffered = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk) => {
      buffered += chunk;
      let newline;
      while ((newline = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        logs.push(line);
        if (logs.length > 500) logs.shift();
        const found = listeningPort(line);
        if (found) {
          clearTimeout(timer);
          resolve(found);
        }
      }
    });
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`server exited (${code ?? signal}) before listening:\n${logs.join('\n')}`));
    });
  });

  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    port,
    pid: child.pid,
    logs,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        process.kill(child.pid, 'SIGTERM');
        const killer = setTimeout(() => {
          if (child.exitCode === null) process.kill(child.pid, 'SIGKILL');
        }, 5_000);
        await exited;
        clearTimeout(killer);
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}

function listeningPort(line) {
  let entry;
  try {
    entry = JSON.parse(line);
  } catch {
    return null;
  }
  const fields = entry.fields ?? {};
  const message = entry.message ?? fields.message;
  if (message !== 'latchkey listening') return null;
  const port = Number(entry.port ?? fields.port);
  return Number.isInteger(port) && port > 0 ? port : null;
}

/** A JSON API call from the test itself (no browser): no Origin header, so CSRF lets it by. */
export async function apiCall(server, method, path, body) {
  const response = await fetch(server.url + path, {
    method,
    headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text ? JSON.parse(text) : null };
}
