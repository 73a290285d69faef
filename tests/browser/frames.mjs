// Trains in the page and prints how smooth its frames stay: the gaps
// between animation frames and the main thread's long tasks (over 50 ms),
// first with the page idle and then while it trains. Not a test: a
// measurement, for issue 5's "no frame longer than 50 ms caused by
// webgan". Needs dist/ (trunk build --release --offline).
//
//   node tests/browser/frames.mjs [SECONDS] [--query 'ngf=16&ndf=16&batch=32']
//
// SECONDS (default 30) of training, after 5 s idle. Two records: when
// each animation frame's callback ran, and the long animation frames
// (over 50 ms) the browser reports, with the scripts that ran in them. On
// SwiftShader the GPU is this machine's CPU, in Chromium's GPU process, so
// a late frame here can come from that work competing for the cores as
// well as from webgan's own main-thread work; a long animation frame's
// scripts say which. A last window, paused, blocks the main thread once
// for 80 ms, to show that both records catch a long frame.

import { distDir, quietFlags, serveStatic, timeout, webGpuFlags, withPage } from './lib.mjs';

const args = process.argv.slice(2);
const at = args.indexOf('--query');
const query = at >= 0 ? args.splice(at, 2)[1] : 'nz=64&ngf=16&ndf=16&batch=32';
const seconds = Number(args[0] ?? 30);

// Installed before the page's own scripts: every animation frame's time
// and every long task, into arrays that the measurement reads and resets.
const recorder = () => {
  window.frameLog = { frames: [], longFrames: [] };
  // When each frame's callback runs (the callback's own argument is the
  // frame's planned start, which can hide a late callback).
  const tick = () => {
    window.frameLog.frames.push(performance.now());
    requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
};

// Long animation frames (over 50 ms, with the scripts that ran in them),
// observed once the page has loaded.
const observeLongFrames = () => {
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      const scripts = (entry.scripts ?? []).map((s) => `${s.invoker || s.name} ${s.duration.toFixed(0)} ms`);
      const scriptMs = (entry.scripts ?? []).reduce((sum, s) => sum + s.duration, 0);
      window.frameLog.longFrames.push({ duration: entry.duration, scripts, scriptMs });
    }
  }).observe({ type: 'long-animation-frame' });
};

const quantile = (sorted, q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];

/** Resets the log, waits `ms` (blocking the main thread for `block` ms
 * halfway, if given), and summarizes what it caught. */
async function window_(page, ms, block = 0) {
  await page.evaluate(() => {
    window.frameLog.frames = [];
    window.frameLog.longFrames = [];
  });
  await page.waitForTimeout(ms / 2);
  if (block) {
    // Inside an animation frame callback, as the page's own work runs.
    await page.evaluate((block) => {
      requestAnimationFrame(() => {
        const end = performance.now() + block;
        while (performance.now() < end);
      });
    }, block);
  }
  await page.waitForTimeout(ms / 2);
  const { frames, longFrames } = await page.evaluate(() => window.frameLog);
  const longest = longFrames.reduce((a, b) => (b.duration > (a?.duration ?? 0) ? b : a), null);
  const gaps = frames.slice(1).map((t, i) => t - frames[i]).sort((a, b) => a - b);
  return {
    frames: frames.length,
    median: quantile(gaps, 0.5),
    p99: quantile(gaps, 0.99),
    max: gaps[gaps.length - 1],
    over50: gaps.filter((g) => g > 50).length,
    longFrames: longFrames.length,
    scripted: longFrames.filter((f) => f.scriptMs > 50).length,
    longest,
  };
}

function show(label, w, steps) {
  const ms = (x) => (x == null ? 'n/a' : `${x.toFixed(1)} ms`);
  console.log(
    `  ${label.padEnd(9)} ${String(w.frames).padStart(5)} frames, gap median ${ms(w.median)}, ` +
      `p99 ${ms(w.p99)}, max ${ms(w.max)}, ${w.over50} over 50 ms; ` +
      `${w.longFrames} long animation frames, ${w.scripted} with over 50 ms of script` +
      (w.longest ? ` (longest ${ms(w.longest.duration)}: ${w.longest.scripts.join(', ') || 'no script'})` : '') +
      (steps == null ? '' : `; ${steps} steps`),
  );
}

const server = await serveStatic(distDir);
const url = `http://127.0.0.1:${server.address().port}/?${query}`;
try {
  await withPage([...quietFlags, ...webGpuFlags], recorder, async (page) => {
    await page.goto(url, { timeout });
    await page.waitForSelector('#run[data-state="paused"]', { timeout });
    const stepCount = async () => Number(await page.textContent('#step-count'));
    await page.evaluate(observeLongFrames);
    const idle = await window_(page, 5_000);
    await page.click('#train');
    // The first steps build the pipelines; measure from the tenth on.
    await page.waitForFunction(() => Number(document.querySelector('#step-count').textContent) >= 10,
      null, { timeout, polling: 250 });
    const before = await stepCount();
    const training = await window_(page, seconds * 1000);
    const steps = (await stepCount()) - before;
    await page.click('#pause');
    // A check that the records see what they should: one frame callback
    // busy for 80 ms.
    const control = await window_(page, 3_000, 80);
    console.log(`?${query} in headless Chromium (SwiftShader WebGPU)`);
    show('idle', idle);
    show('training', training, steps);
    show('control', control);
    console.log('  (control: paused; one animation frame callback of this script busy for 80 ms)');
  });
} finally {
  server.close();
}
