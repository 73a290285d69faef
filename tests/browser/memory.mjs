// Trains in the page for many steps and prints what it holds in memory at
// the start and at the end: GPU buffers webgan holds (count and bytes), the
// JS heap after a garbage collection, and the wasm module's memory. Not a
// test: a measurement, for issue 5's "memory stays flat". Needs dist/
// (trunk build --release --offline).
//
//   node tests/browser/memory.mjs [STEPS] [--query 'ngf=4&ndf=4&batch=4']
//
// STEPS defaults to 10000. The default model is small (nz 64, ngf = ndf = 4,
// batch 4), so that SwiftShader gets through 10,000 steps in minutes; what
// a step allocates does not depend on the sizes. The page's whole loop runs:
// samples every frame, charts, the metrics ring, snapshots every 20 s.

import { distDir, quietFlags, serveStatic, timeout, webGpuFlags, withPage } from './lib.mjs';

const args = process.argv.slice(2);
const at = args.indexOf('--query');
const query = at >= 0 ? args.splice(at, 2)[1] : 'nz=64&ngf=4&ndf=4&batch=4';
const steps = Number(args[0] ?? 10_000);

/** The page's memory line as an object, after a full garbage collection. */
async function memory(page) {
  await page.evaluate(() => window.gc?.());
  // The page refreshes its figures once a second.
  await page.waitForTimeout(1_500);
  return JSON.parse(await page.evaluate(() => window.webgan_memory()));
}

function show(label, step, m) {
  const mib = (bytes) => (bytes == null ? 'n/a' : `${(bytes / 2 ** 20).toFixed(2)} MiB`);
  console.log(
    `  ${label.padEnd(6)} step ${String(step).padStart(6)}: ${m.gpu_buffers} GPU buffers ` +
      `(${mib(m.gpu_bytes)}, ${m.gpu_buffers_made} made in all), JS heap ${mib(m.js_heap_bytes)}, ` +
      `wasm ${mib(m.wasm_bytes)}`,
  );
}

const server = await serveStatic(distDir);
const url = `http://127.0.0.1:${server.address().port}/?${query}`;
try {
  const flags = [...quietFlags, ...webGpuFlags, '--js-flags=--expose-gc'];
  await withPage(flags, null, async (page, consoleLog) => {
    await page.goto(url, { timeout });
    await page.waitForSelector('#run[data-state="paused"]', { timeout });
    const stepCount = async () => Number(await page.textContent('#step-count'));
    const started = Date.now();
    await page.click('#train');
    await page.waitForFunction(() => Number(document.querySelector('#step-count').textContent) >= 50,
      null, { timeout, polling: 250 });
    await page.click('#pause');
    const first = [await stepCount(), await memory(page)];
    await page.click('#train');
    await page.waitForFunction(
      (n) => Number(document.querySelector('#step-count').textContent) >= n,
      steps,
      { timeout: 3_600_000, polling: 1_000 },
    );
    await page.click('#pause');
    const last = [await stepCount(), await memory(page)];
    const seconds = (Date.now() - started) / 1000;
    console.log(`?${query}, ${steps} steps in headless Chromium (SwiftShader WebGPU), ${seconds.toFixed(0)} s`);
    show('start', ...first);
    show('end', ...last);
    const errors = consoleLog.filter((line) => line.startsWith('error') || line.startsWith('pageerror'));
    if (errors.length) console.log(`  console errors:\n    ${errors.join('\n    ')}`);
  });
} finally {
  server.close();
}
