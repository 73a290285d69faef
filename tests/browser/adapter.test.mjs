// Browser test of the page that `trunk build --release --offline` writes to
// dist/: Debian's Chromium, WebGPU on SwiftShader (the CPU), driven by
// playwright-core.
//
//   1. With WebGPU: #status reaches data-state="ready", #adapter names an
//      adapter, the console shows no error. Screenshot: artifacts/adapter.png.
//   2. Without WebGPU (navigator.gpu removed before the page runs): #status
//      reaches data-state="no-webgpu" and explains which browsers to use.
//      Screenshot: artifacts/no-webgpu.png.
//
// Run from anywhere: `node tests/browser/adapter.test.mjs`. Environment:
// CHROMIUM (default /usr/bin/chromium), WEBGAN_BROWSER_TIMEOUT_MS (default
// 180000: SwiftShader is slow to start). Exits 1 if a case fails; the last
// line reads "browser: N passed, N failed".

import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, extname, join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../..');
const distDir = join(root, 'dist');
const artifactsDir = join(here, 'artifacts');
const executablePath = process.env.CHROMIUM ?? '/usr/bin/chromium';
const timeout = Number(process.env.WEBGAN_BROWSER_TIMEOUT_MS ?? 180_000);

// Flags verified to give Chromium a working WebGPU on SwiftShader, compute
// and canvas both (see shared TOOLCHAIN.md). Playwright passes --headless,
// --no-sandbox and the fresh profile directory as well; repeating the first
// two is harmless.
const quietFlags = [
  '--headless=new',
  '--no-sandbox',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const webGpuFlags = [
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
async function serveStatic(dir) {
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
 * every console message and page error, as "type: text".
 */
async function withPage(args, initScript, body) {
  const userDataDir = mkdtempSync(join(tmpdir(), 'webgan-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath,
    headless: true,
    args,
    viewport: { width: 1000, height: 700 },
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
async function settledState(page) {
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

function check(condition, message, consoleLog) {
  if (!condition) {
    const log = consoleLog.length ? `\n  console:\n    ${consoleLog.join('\n    ')}` : '';
    throw new Error(message + log);
  }
}

async function findsTheAdapter(url) {
  await withPage([...quietFlags, ...webGpuFlags], null, async (page, consoleLog) => {
    await page.goto(url, { timeout });
    const state = await settledState(page);
    const status = (await page.textContent('#status'))?.trim();
    check(state === 'ready', `#status is "${state}", not "ready": ${status}`, consoleLog);

    const adapter = (await page.textContent('#adapter'))?.trim() ?? '';
    // Chromium's software adapter reports vendor "google", architecture
    // "swiftshader"; anything else means the flags did not take.
    check(/swiftshader/i.test(adapter), `#adapter is "${adapter}", not SwiftShader`, consoleLog);
    const errors = consoleLog.filter((line) => /^(error|pageerror):/.test(line));
    check(errors.length === 0, `${errors.length} console error(s)`, consoleLog);

    await page.screenshot({ path: join(artifactsDir, 'adapter.png'), fullPage: true });
    console.log(`  adapter: ${adapter}`);
  });
}

async function explainsMissingWebGpu(url) {
  // Without the WebGPU flags, and with navigator.gpu removed before any page
  // script runs, as in a browser that has no WebGPU at all.
  const removeGpu = () => {
    delete Navigator.prototype.gpu;
  };
  await withPage(quietFlags, removeGpu, async (page, consoleLog) => {
    await page.goto(url, { timeout });
    const state = await settledState(page);
    const status = (await page.textContent('#status'))?.trim() ?? '';
    check(state === 'no-webgpu', `#status is "${state}", not "no-webgpu": ${status}`, consoleLog);

    for (const phrase of ['needs a browser with WebGPU', 'Chrome', 'Safari', 'Firefox', 'https']) {
      check(status.includes(phrase), `#status does not mention "${phrase}": ${status}`, consoleLog);
    }
    check((await page.$('#adapter')) === null, '#adapter shown without WebGPU', consoleLog);
    await page.screenshot({ path: join(artifactsDir, 'no-webgpu.png'), fullPage: true });
  });
}

async function main() {
  try {
    statSync(join(distDir, 'index.html'));
  } catch {
    console.error(`browser: no ${distDir}/index.html; run \`trunk build --release --offline\` first`);
    process.exit(1);
  }
  mkdirSync(artifactsDir, { recursive: true });

  const server = await serveStatic(distDir);
  const url = `http://127.0.0.1:${server.address().port}/`;
  const cases = [
    ['the page finds a WebGPU adapter (SwiftShader)', findsTheAdapter],
    ['the page explains a browser without WebGPU', explainsMissingWebGpu],
  ];

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

await main();
