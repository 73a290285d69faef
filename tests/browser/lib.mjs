// Shared helpers of the browser tests: the static server for dist/, the
// Chromium flags that give WebGPU on SwiftShader, a fresh browser profile per
// case, and a small runner that prints "ok"/"not ok" per case.

import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, extname, join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

import { chromium } from 'playwright-core';

export const here = dirname(fileURLToPath(import.meta.url));
export const root = resolve(here, '../..');
export const distDir = join(root, 'dist');
export const artifactsDir = join(here, 'artifacts');
export const executablePath = process.env.CHROMIUM ?? '/usr/bin/chromium';
export const timeout = Number(process.env.WEBGAN_BROWSER_TIMEOUT_MS ?? 180_000);

// Flags verified to give Chromium a working WebGPU on SwiftShader, compute
// and canvas both (see shared TOOLCHAIN.md). Playwright passes --headless,
// --no-sandbox and the fresh profile directory as well; repeating the first
// two is harmless.
export const quietFlags = [
  '--headless=new',
  '--no-sandbox',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
export const webGpuFlags = [
  '--enable-unsafe-webgpu',
  '--enable-features=Vulkan',
  '--use-vulkan=swiftshader',
  '--use-angle=vulkan',
  '--use-webgpu-adapter=swiftshader',
];

const mimeTypes = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.wasm': 'application/wasm',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
  '.ico': 'image/x-icon',
};

/** Serves `dir` on a free port of 127.0.0.1 (a secure context, as localhost). */
export async function serveStatic(dir) {
  const server = createServer((request, response) => {
    const path = decodeURIComponent(new URL(request.url, 'http://host').pathname);
    let file = normalize(join(dir, path));
    if (file !== dir && !file.startsWith(dir + sep)) {
      response.writeHead(403).end();
      return;
    }
    try {
      if (statSync(file).isDirectory()) file = join(file, 'index.html');
      const body = readFileSync(file);
      const type = mimeTypes[extname(file)] ?? 'application/octet-stream';
      response.writeHead(200, { 'content-type': type, 'cache-control': 'no-store' });
      response.end(body);
    } catch {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
    }
  });
  await new Promise((ok, fail) => server.listen(0, '127.0.0.1', ok).on('error', fail));
  return server;
}

/**
 * Runs `body(page, consoleLog)` in a fresh Chromium profile; the log holds
 * every console message and page error, as "type: text". Options:
 * `viewport` (default 1000 x 700).
 */
export async function withPage(args, initScript, body, { viewport } = {}) {
  const userDataDir = mkdtempSync(join(tmpdir(), 'webgan-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath,
    headless: true,
    args,
    viewport: viewport ?? { width: 1000, height: 700 },
    acceptDownloads: true,
    timeout,
  });
  try {
    const page = context.pages()[0] ?? (await context.newPage());
    const consoleLog = [];
    page.on('console', (message) => consoleLog.push(`${message.type()}: ${message.text()}`));
    page.on('pageerror', (error) => consoleLog.push(`pageerror: ${error.message}`));
    if (initScript) await page.addInitScript(initScript);
    await body(page, consoleLog);
  } finally {
    await context.close();
    rmSync(userDataDir, { recursive: true, force: true });
  }
}

/** Waits until #status leaves "checking" and returns its data-state. */
export async function settledState(page) {
  const handle = await page.waitForFunction(
    () => {
      const state = document.querySelector('#status')?.dataset.state;
      return state && state !== 'checking' ? state : null;
    },
    null,
    { timeout, polling: 250 },
  );
  return handle.jsonValue();
}

export function check(condition, message, consoleLog) {
  if (!condition) {
    const log = consoleLog.length ? `\n  console:\n    ${consoleLog.join('\n    ')}` : '';
    throw new Error(message + log);
  }
}

/**
 * Serves dist/ and runs `cases` ([name, async (url) => {...}]) in order;
 * prints one line per case and a summary, and sets the exit code.
 */
export async function runCases(cases) {
  try {
    statSync(join(distDir, 'index.html'));
  } catch {
    console.error(`browser: no ${distDir}/index.html; run \`trunk build --release --offline\` first`);
    process.exit(1);
  }
  mkdirSync(artifactsDir, { recursive: true });

  const server = await serveStatic(distDir);
  const url = `http://127.0.0.1:${server.address().port}/`;
  let passed = 0;
  let failed = 0;
  try {
    for (const [name, run] of cases) {
      const started = Date.now();
      try {
        await run(url);
        passed += 1;
        console.log(`ok - ${name} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
      } catch (error) {
        failed += 1;
        console.log(`not ok - ${name}\n  ${error.message}`);
      }
    }
  } finally {
    server.close();
  }
  console.log(`browser: ${passed} passed, ${failed} failed`);
  process.exitCode = failed ? 1 : 0;
}
