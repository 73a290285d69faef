// Browser test of training in the page that `trunk build --release --offline`
// writes to dist/: Debian's Chromium, WebGPU on SwiftShader (the CPU), driven
// by playwright-core. The tiny preset with a batch of 8 keeps SwiftShader at
// about a second per iteration.
//
//   1. Training: the page loads without console errors and shows the
//      adapter; one Step draws the samples of step 1; Train runs 30 steps
//      and more; both loss charts hold 30 finite points; hovering a chart
//      shows exact values; moving the lr_g slider changes the learning rate
//      in use (shown in the page and the URL) without resetting the step
//      count; Pause stops the step count; the samples differ between steps 1
//      and 30; a downloaded checkpoint, uploaded after more steps, restores
//      the step count and the samples; a bad file is refused with a message
//      and leaves the run alone; a lost device stops training and "Start
//      again" resumes from the last state in memory. Screenshot:
//      artifacts/train.png.
//   2. The first 10 steps' losses equal those of the native `webgan train`
//      with the same seed, preset and batch (1e-3 relative).
//   3. Settings that make no sense in the URL are refused with a message.
//   4. ?bench shows a median time per iteration and, where the adapter has
//      timestamp queries, a per-kernel table.
//
// Run from anywhere: `node tests/browser/train.test.mjs`. Environment as
// adapter.test.mjs, and WEBGAN_TRAIN_TIMEOUT_MS (default 600000) for the
// waits on training.

import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import {
  artifactsDir,
  check,
  quietFlags,
  root,
  runCases,
  timeout,
  webGpuFlags,
  withPage,
} from './lib.mjs';

const trainTimeout = Number(process.env.WEBGAN_TRAIN_TIMEOUT_MS ?? 600_000);
const viewport = { width: 1280, height: 900 };
const small = 'preset=tiny&batch=8';

/** Opens `url` with WebGPU and waits until the run is ready (paused). */
async function openRun(page, url) {
  page.on('dialog', (dialog) => dialog.accept());
  await page.goto(url, { timeout });
  await page.waitForSelector('#run[data-state="paused"]', { timeout });
}

async function stepCount(page) {
  return Number(await page.textContent('#step-count'));
}

/** Waits until `predicate(arg)` holds in the page, polling every 250 ms. */
async function until(page, predicate, arg) {
  await page.waitForFunction(predicate, arg, { timeout: trainTimeout, polling: 250 });
}

/** Waits until the sample grid shows step `step`, and returns its pixels. */
async function samplesAt(page, step) {
  await until(page, (s) => document.querySelector('#samples')?.dataset.step === String(s), step);
  return page.$eval('#samples', (canvas) => {
    const { data } = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height);
    return Array.from(data);
  });
}

function spread(pixels) {
  const red = pixels.filter((_, i) => i % 4 === 0);
  const mean = red.reduce((a, b) => a + b, 0) / red.length;
  return Math.sqrt(red.reduce((a, b) => a + (b - mean) ** 2, 0) / red.length);
}

function differences(a, b) {
  return a.reduce((count, value, i) => count + (value !== b[i] ? 1 : 0), 0);
}

async function metrics(page) {
  return JSON.parse(await page.evaluate(() => window.webgan_metrics()));
}

async function trainsAndSteers(url) {
  const downloads = mkdtempSync(join(tmpdir(), 'webgan-downloads-'));
  try {
    await withPage([...quietFlags, ...webGpuFlags], null, async (page, consoleLog) => {
      await openRun(page, `${url}?${small}&seed=3`);
      const adapter = (await page.textContent('#adapter'))?.trim() ?? '';
      check(/swiftshader/i.test(adapter), `#adapter is "${adapter}"`, consoleLog);

      // Step 1, by the Step button.
      await page.click('#step');
      const first = await samplesAt(page, 1);
      check(spread(first) > 2, `the samples of step 1 look blank (spread ${spread(first)})`, consoleLog);

      // Train; move lr_g mid-run.
      await page.click('#train');
      await until(page, () => Number(document.querySelector('#step-count')?.textContent) >= 12);
      const before = await stepCount(page);
      await page.$eval('#lr-g', (slider) => {
        slider.value = '600'; // 1e-3 on the log scale from 1e-6 to 1e-1
        slider.dispatchEvent(new Event('input', { bubbles: true }));
      });
      await until(page, () => document.querySelector('#lr-g-used')?.textContent === '1.00e-3');
      const after = await stepCount(page);
      check(after >= before, `the step count went from ${before} to ${after}`, consoleLog);
      check(page.url().includes('lr_g=0.001'), `the URL lacks lr_g: ${page.url()}`, consoleLog);
      check(
        (await page.textContent('#lr-g-value')) === '1.00e-3',
        'the slider does not show its value',
        consoleLog,
      );

      // 30 steps with metrics, then pause.
      await until(page, () =>
        ['#chart-losses', '#chart-outputs'].every(
          (id) => Number(document.querySelector(id)?.dataset.points) >= 30,
        ),
      );
      await page.click('#pause');
      await page.waitForSelector('#run[data-state="paused"]', { timeout });
      // Queued frames finish after the click; then the count must hold still.
      await page.waitForTimeout(3000);
      const paused = await stepCount(page);
      await page.waitForTimeout(4000);
      const still = await stepCount(page);
      check(paused === still, `paused at ${paused} but the count moved to ${still}`, consoleLog);
      check(paused >= 30, `only ${paused} steps`, consoleLog);

      const rows = await metrics(page);
      const finite = (key) => rows.filter((row) => Number.isFinite(row[key])).length;
      for (const key of ['loss_d', 'loss_g', 'd_x', 'd_g_z1', 'd_g_z2']) {
        check(finite(key) >= 30, `${key} has ${finite(key)} finite values`, consoleLog);
      }
      const latest = await samplesAt(page, paused);
      check(differences(first, latest) > 1000, 'the samples of step 1 and 30 are alike', consoleLog);

      // Hovering a chart shows a step's exact values.
      const chart = page.locator('#chart-losses');
      const box = await chart.boundingBox();
      await chart.hover({ position: { x: box.width * 0.6, y: box.height / 2 } });
      await page
        .waitForFunction(() => document.querySelector('#chart-losses-hover')?.textContent, null, {
          timeout: 5000,
        })
        .catch(() => {});
      const hover = (await page.textContent('#chart-losses-hover')) ?? '';
      check(/^step \d+: loss_d -?\d/.test(hover), `hover text "${hover}"`, consoleLog);

      const errors = consoleLog.filter((line) => /^(error|pageerror):/.test(line));
      check(errors.length === 0, `${errors.length} console error(s)`, consoleLog);
      await page.screenshot({ path: join(artifactsDir, 'train.png'), fullPage: true });

      // Download a checkpoint, go on two steps, upload it again.
      const [download] = await Promise.all([
        page.waitForEvent('download', { timeout }),
        page.click('#save-checkpoint'),
      ]);
      const checkpoint = join(downloads, download.suggestedFilename());
      await download.saveAs(checkpoint);
      await page.click('#step');
      await page.click('#step');
      await samplesAt(page, paused + 2);
      await page.setInputFiles('#load-checkpoint', checkpoint);
      await until(page, (s) => document.querySelector('#step-count')?.textContent === String(s), paused);
      const restored = await samplesAt(page, paused);
      check(
        differences(latest, restored) === 0,
        `restored samples differ in ${differences(latest, restored)} values`,
        consoleLog,
      );

      // A bad file: a message, and the run as it was.
      await page.setInputFiles('#load-checkpoint', {
        name: 'bad.safetensors',
        mimeType: 'application/octet-stream',
        buffer: Buffer.from('this is not a checkpoint'),
      });
      await page.waitForSelector('#message[data-kind="error"]', { timeout });
      const message = (await page.textContent('#message')) ?? '';
      check(message.includes('bad.safetensors'), `message "${message}"`, consoleLog);
      check((await stepCount(page)) === paused, 'the bad file changed the step count', consoleLog);

      // A lost device: a message, and "Start again" from the state in memory
      // (the checkpoint just loaded).
      await page.evaluate(() => window.webgan_lose_device());
      await page.waitForSelector('#run[data-state="lost"]', { timeout });
      check(
        /device was lost/.test((await page.textContent('#message')) ?? ''),
        'no message on a lost device',
        consoleLog,
      );
      await page.click('#recover');
      await page.waitForSelector('#run[data-state="paused"]', { timeout });
      check((await stepCount(page)) === paused, 'recovery lost the step count', consoleLog);
      await page.click('#step');
      await samplesAt(page, paused + 1);
      console.log(`  ${paused} steps; checkpoint ${download.suggestedFilename()}`);
    }, { viewport });
  } finally {
    rmSync(downloads, { recursive: true, force: true });
  }
}

// The native run uses the Vulkan build of SwiftShader that Chromium ships,
// so both sides run on the same emulated GPU and the comparison isolates the
// page's path (wasm, WebGPU, Dawn) from the emulators' own arithmetic; the
// losses came out bit-equal here. Natively on lavapipe instead, the first
// step's losses differ by up to 4e-5 (the emulators' tanh and exp), and
// Adam's first steps (about lr whatever a gradient's size) grow that to
// 1.5e-3 by step 10. WEBGAN_NATIVE_VK_ICD names another Vulkan driver
// manifest; an empty value leaves wgpu's choice.
const chromiumIcd = '/usr/lib/chromium/vk_swiftshader_icd.json';
const nativeIcd =
  process.env.WEBGAN_NATIVE_VK_ICD ?? (existsSync(chromiumIcd) ? chromiumIcd : '');

/** The native binary's metrics.csv rows, by step. */
function nativeMetrics(seed, steps) {
  execFileSync('cargo', ['build', '--quiet', '-p', 'webgan'], { cwd: root, stdio: 'inherit' });
  const out = mkdtempSync(join(tmpdir(), 'webgan-native-'));
  try {
    const args = ['train', '--preset', 'tiny', '--seed', String(seed)];
    args.push('--steps', String(steps), '--out', out);
    execFileSync(join(root, 'target/debug/webgan'), args, {
      env: {
        ...process.env,
        XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? '/tmp',
        ...(nativeIcd ? { VK_ICD_FILENAMES: nativeIcd } : {}),
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    const [header, ...lines] = readFileSync(join(out, 'metrics.csv'), 'utf8').trim().split('\n');
    const keys = header.split(',');
    return lines.map((line) => {
      const values = line.split(',');
      return Object.fromEntries(keys.map((key, i) => [key, Number(values[i])]));
    });
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

async function matchesNative(url) {
  const seed = 5;
  const steps = 10;
  const keys = ['loss_d', 'loss_d_real', 'loss_d_fake', 'loss_g', 'd_x', 'd_g_z1', 'd_g_z2'];
  const native = nativeMetrics(seed, steps);
  await withPage([...quietFlags, ...webGpuFlags], null, async (page, consoleLog) => {
    await openRun(page, `${url}?preset=tiny&seed=${seed}`);
    await page.click('#train');
    await until(page, (n) => JSON.parse(window.webgan_metrics()).length >= n, steps);
    await page.click('#pause');
    const browser = await metrics(page);
    let worst = 0;
    const table = [];
    const failures = [];
    for (let i = 0; i < steps; i++) {
      const line = [`step ${native[i].step}`];
      for (const key of keys) {
        const [a, b] = [browser[i][key], native[i][key]];
        const relative = Math.abs(a - b) / Math.max(Math.abs(b), 1e-6);
        worst = Math.max(worst, relative);
        line.push(`${key} ${relative.toExponential(1)}`);
        if (browser[i].step !== native[i].step || !(relative <= 1e-3)) {
          failures.push(`step ${native[i].step} ${key}: browser ${a}, native ${b}`);
        }
      }
      table.push(line.join(' '));
    }
    check(failures.length === 0, `${failures.join('\n  ')}\n  relative differences:\n    ${table.join('\n    ')}`, consoleLog);
    console.log(
      `  largest relative difference over ${steps} steps: ${worst.toExponential(2)} ` +
        `(native on ${nativeIcd || "wgpu's default adapter"})`,
    );
  });
}

async function refusesBadUrlSettings(url) {
  await withPage([...quietFlags, ...webGpuFlags], null, async (page, consoleLog) => {
    await openRun(page, `${url}?preset=tiny&batch=1&lr_g=-2&loss=hinge`);
    const message = (await page.textContent('#message')) ?? '';
    for (const refusal of ['batch must', 'lr_g must', 'loss:']) {
      check(message.includes(refusal), `the message lacks "${refusal}": ${message}`, consoleLog);
    }
    check((await page.inputValue('#batch')) === '32', 'the refused batch was used', consoleLog);

    // A value typed into the page is refused the same way.
    await page.fill('#nz', '0');
    await page.press('#nz', 'Enter');
    await page.waitForFunction(() => /nz must/.test(document.querySelector('#message')?.textContent));
    check((await page.inputValue('#nz')) === '32', 'the refused nz stayed in its field', consoleLog);
  });
}

async function benchmarks(url) {
  await withPage([...quietFlags, ...webGpuFlags], null, async (page, consoleLog) => {
    await page.goto(`${url}?bench=3&preset=tiny`, { timeout });
    await page.waitForSelector('#run[data-state="bench-done"]', { timeout: trainTimeout });
    const ms = Number(await page.textContent('#bench tr[data-model="tiny"] .ms'));
    check(ms > 0, `median ${ms} ms`, consoleLog);
    console.log(`  tiny: ${ms} ms per iteration`);

    // Where the adapter has timestamp queries, a per-kernel table follows:
    // every layer's kernels, with shares that add up to the whole.
    const timestamps = await page.evaluate(async () =>
      (await navigator.gpu.requestAdapter()).features.has('timestamp-query'));
    const rows = await page.$$eval('table.kernels[data-model="tiny"] tbody tr', (trs) =>
      trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent.trim())));
    if (!timestamps) {
      check(rows.length === 0, 'no per-kernel table without timestamp queries', consoleLog);
      console.log('  no timestamp queries here: no per-kernel table');
      return;
    }
    check(rows.length >= 10, `${rows.length} per-kernel rows`, consoleLog);
    const layers = new Set(rows.map((r) => r[0]));
    check(layers.has('D.2 conv') && layers.has('G.6 convT'), `layers: ${[...layers]}`, consoleLog);
    const kernelMs = rows.map((r) => Number(r[3]));
    check(kernelMs.every((v) => v >= 0) && kernelMs[0] > 0, `kernel ms ${kernelMs}`, consoleLog);
    check(kernelMs.every((v, i) => i === 0 || v <= kernelMs[i - 1]), 'slowest first', consoleLog);
    console.log(`  slowest kernel: ${rows[0].slice(0, 2).join(' ')} ${rows[0][3]} ms`);
  });
}

const only = process.env.WEBGAN_CASE;
await runCases([
  ['the page trains, draws, steers, pauses, saves, loads and recovers', trainsAndSteers],
  ['the first 10 steps equal the native webgan train', matchesNative],
  ['settings that make no sense are refused', refusesBadUrlSettings],
  ['?bench shows the median time per iteration', benchmarks],
].filter(([name]) => !only || name.includes(only)));
