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

import { join } from 'node:path';

import {
  artifactsDir,
  check,
  quietFlags,
  runCases,
  settledState,
  timeout,
  webGpuFlags,
  withPage,
} from './lib.mjs';

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

await runCases([
  ['the page finds a WebGPU adapter (SwiftShader)', findsTheAdapter],
  ['the page explains a browser without WebGPU', explainsMissingWebGpu],
]);
