// Runs the page's ?bench in headless Chromium (SwiftShader WebGPU) and prints
// the median milliseconds per training iteration. Not a test: a measurement,
// for the record and for issue 5's comparison with TensorFlow.js
// (../shared/bench/tfjs). Needs dist/ (trunk build --release --offline).
//
//   node tests/browser/bench.mjs [ITERATIONS] [--configs 16:32,32:64]
//
// Without --configs it times every preset; with it, each WIDTH:BATCH as the
// TensorFlow.js peer does (nz 64, ngf = ndf = WIDTH), so the two tables can
// be put side by side.

import { distDir, quietFlags, serveStatic, webGpuFlags, withPage } from './lib.mjs';

const args = process.argv.slice(2);
const at = args.indexOf('--configs');
const configs = at >= 0 ? args.splice(at, 2)[1] : null;
const iterations = Number(args[0] ?? 10);
const query = `?bench=${iterations}${configs ? `&configs=${encodeURIComponent(configs)}` : ''}`;

const server = await serveStatic(distDir);
const url = `http://127.0.0.1:${server.address().port}/`;
try {
  await withPage([...quietFlags, ...webGpuFlags], null, async (page) => {
    await page.goto(`${url}${query}`, { timeout: 60_000 });
    await page.waitForSelector('#run[data-state="bench-done"]', { timeout: 3_600_000 });
    console.log(`${query} in headless Chromium (SwiftShader WebGPU)`);
    const message = await page.$eval('#message', (m) => m.textContent.trim()).catch(() => '');
    if (message) console.log(`  message: ${message}`);
    for (const row of await page.$$('#bench tbody tr')) {
      const cells = await row.$$eval('td, th', (tds) => tds.map((td) => td.textContent.trim()));
      console.log(`  ${cells.join(' | ')}`);
    }
    // The per-kernel tables, where the adapter has timestamp queries.
    for (const table of await page.$$('table.kernels')) {
      const title = await table.evaluate((t) => t.previousElementSibling?.textContent.trim() ?? '');
      console.log(`\n  ${title}`);
      for (const row of await table.$$('tr')) {
        const cells = await row.$$eval('td, th', (tds) => tds.map((td) => td.textContent.trim()));
        console.log(`    ${cells.join(' | ')}`);
      }
    }
    if ((await page.$$('table.kernels')).length === 0) {
      console.log('  (no per-kernel table: this adapter has no timestamp queries)');
    }
  });
} finally {
  server.close();
}
