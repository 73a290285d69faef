// Runs the page's ?bench in headless Chromium (SwiftShader WebGPU) for every
// preset and prints the median milliseconds per training iteration. Not a
// test: a measurement, for the record and for issue 5's comparison with
// TensorFlow.js (../shared/bench/tfjs). Needs dist/ (trunk build --release
// --offline).
//
//   node tests/browser/bench.mjs [ITERATIONS]

import { distDir, quietFlags, serveStatic, webGpuFlags, withPage } from './lib.mjs';

const iterations = Number(process.argv[2] ?? 10);
const presets = ['tiny', 'standard', 'large'];
const server = await serveStatic(distDir);
const url = `http://127.0.0.1:${server.address().port}/`;
try {
  await withPage([...quietFlags, ...webGpuFlags], null, async (page) => {
    await page.goto(`${url}?bench=${iterations}`, { timeout: 60_000 });
    await page.waitForSelector('#run[data-state="bench-done"]', { timeout: 3_600_000 });
    console.log(`?bench=${iterations} in headless Chromium (SwiftShader WebGPU)`);
    for (const preset of presets) {
      const row = await page.$(`#bench tr[data-preset="${preset}"]`);
      if (row) {
        const cells = await row.$$eval('td, th', (tds) => tds.map((td) => td.textContent.trim()));
        console.log(`  ${cells.join(' | ')}`);
      }
    }
  });
} finally {
  server.close();
}
