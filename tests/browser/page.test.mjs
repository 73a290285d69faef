// Browser test of what a new user meets in the page, beside training itself
// (train.test.mjs): files given to the wrong input, Step D and Step G,
// too few images, drops anywhere on the page, messages that say what is
// allowed, a model slow to initialise, the console's adapter line and the
// layout. Each case needs no more than a few steps of the tiny preset.
//
//   1. Files and steps: a text file or an empty file chosen under "Continue
//      from a checkpoint" is refused as a checkpoint; Step D and Step G say
//      what they did and are counted; 3 images with a batch of 8 are refused
//      before any question; a text file given as data names the kinds of
//      files taken; a file dropped on the page's margin does not navigate
//      away. The console names the adapter as the browser does. The charts
//      use the width beside the settings. Screenshot: artifacts/page.png.
//   2. URL values out of range say what is allowed; a learning rate beyond
//      the slider and 50 D steps (the trainer allows 100) are taken.
//   3. A model that keeps the GPU busy (ngf 1024 on SwiftShader) shows a
//      status while it initialises, then a hint to lower its sizes.
//
// Run from anywhere: `node tests/browser/page.test.mjs`. Environment as
// adapter.test.mjs; WEBGAN_CASE picks cases by a part of their name.

import { deflateSync } from 'node:zlib';
import { join } from 'node:path';

import {
  artifactsDir,
  check,
  quietFlags,
  runCases,
  timeout,
  webGpuFlags,
  withPage,
} from './lib.mjs';

const viewport = { width: 1280, height: 900 };

/** Opens `url`, counting dialogs (all accepted), and waits for the run. */
async function openRun(page, url) {
  const dialogs = [];
  page.on('dialog', (dialog) => {
    dialogs.push(dialog.message());
    dialog.accept();
  });
  await page.goto(url, { timeout });
  await page.waitForSelector('#run[data-state="paused"]', { timeout });
  return dialogs;
}

async function message(page) {
  return ((await page.textContent('#message').catch(() => '')) ?? '').trim();
}

/** Waits until #message matches `pattern`; returns its text. */
async function messageMatching(page, pattern, consoleLog) {
  await page
    .waitForFunction(
      (source) => new RegExp(source).test(document.querySelector('#message')?.textContent ?? ''),
      pattern.source,
      { timeout: 30_000, polling: 100 },
    )
    .catch(() => {});
  const text = await message(page);
  check(pattern.test(text), `#message is "${text}", expected ${pattern}`, consoleLog);
  return text;
}

async function dismiss(page) {
  await page.click('#message button').catch(() => {});
  await page.waitForSelector('#message', { state: 'detached', timeout: 5000 });
}

/** A small grey PNG, 28 x 28, of value `v` (8-bit greyscale, no filter). */
function png(v) {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (bytes) => {
    let c = 0xffffffff;
    for (const b of bytes) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type, data) => {
    const body = Buffer.concat([Buffer.from(type), data]);
    const out = Buffer.alloc(12 + data.length);
    out.writeUInt32BE(data.length, 0);
    body.copy(out, 4);
    out.writeUInt32BE(crc(body), 8 + data.length);
    return out;
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(28, 0);
  header.writeUInt32BE(28, 4);
  header[8] = 8; // bit depth
  header[9] = 0; // greyscale
  const rows = Buffer.alloc(28 * 29, v);
  for (let y = 0; y < 28; y++) rows[y * 29] = 0; // filter byte
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(rows)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

async function filesAndSteps(url) {
  await withPage([...quietFlags, ...webGpuFlags], null, async (page, consoleLog) => {
    const dialogs = await openRun(page, `${url}?preset=tiny&batch=8&seed=2`);

    // The console names the adapter as the browser does.
    const adapterLines = consoleLog.filter((line) => /webgan: adapter/.test(line));
    check(
      adapterLines.length === 1 && /swiftshader/i.test(adapterLines[0]),
      `adapter lines: ${JSON.stringify(adapterLines)}`,
      consoleLog,
    );
    check(!consoleLog.some((line) => /unnamed adapter/.test(line)), 'the console says "unnamed adapter"', consoleLog);

    // Anything chosen as a checkpoint is judged as one.
    for (const [name, text] of [['notes.txt', 'not an idx file\n'], ['empty', '']]) {
      await page.setInputFiles('#load-checkpoint', { name, mimeType: 'text/plain', buffer: Buffer.from(text) });
      const said = await messageMatching(page, /^Not loaded: .*not a safetensors file/, consoleLog);
      check(said.includes(name), `the message does not name ${name}: ${said}`, consoleLog);
      await dismiss(page);
    }

    // Step D and Step G say what happened and are counted, not as steps.
    await page.click('#step-d');
    await messageMatching(page, /^D step taken: D's weights were updated/, consoleLog);
    await page.click('#step-g');
    await messageMatching(page, /^G step taken: G's weights were updated/, consoleLog);
    await page.waitForFunction(
      () => document.querySelector('#extra-steps')?.textContent === '1 D-only, 1 G-only',
      null,
      { timeout: 30_000 },
    );
    check((await page.textContent('#step-count')) === '0', 'Step D or G counted as a step', consoleLog);
    check(/no metrics/.test((await page.getAttribute('#step-d', 'title')) ?? ''), 'Step D has no tooltip', consoleLog);

    // Too few images: refused before any question about the steps.
    await page.click('#step');
    await page.waitForFunction(() => document.querySelector('#step-count')?.textContent === '1');
    await page.waitForFunction(() => document.querySelector('#chart-losses')?.dataset.steps === '1', null, {
      timeout: 60_000,
    });
    const images = [0, 1, 2].map((i) => ({ name: `d${i}.png`, mimeType: 'image/png', buffer: png(40 * i + 30) }));
    await page.setInputFiles('#data-files', images);
    await messageMatching(page, /^Not used as training data: 3 images given, fewer than one batch of 8/, consoleLog);
    check(dialogs.length === 0, `asked before checking the data: ${dialogs.join(' | ')}`, consoleLog);
    await dismiss(page);

    // A text file as data: the message names IDX files too, in good English.
    await page.setInputFiles('#data-files', { name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('x') });
    const notData = await messageMatching(page, /^Not used as training data: notes.txt is not an MNIST IDX file/, consoleLog);
    check(notData.includes('train-images-idx3-ubyte.gz'), `no example of an IDX name: ${notData}`, consoleLog);
    await dismiss(page);

    // A drop on the page's margin (outside <main>) is taken, not opened.
    const before = page.url();
    const transfer = await page.evaluateHandle(() => {
      const data = new DataTransfer();
      data.items.add(new File(['hello'], 'dropped.txt', { type: 'text/plain' }));
      return data;
    });
    await page.dispatchEvent('html', 'dragover', { dataTransfer: transfer });
    const prevented = await page.evaluate(() => {
      const event = new DragEvent('drop', { bubbles: true, cancelable: true, dataTransfer: new DataTransfer() });
      event.dataTransfer.items.add(new File(['hello'], 'dropped.txt', { type: 'text/plain' }));
      document.documentElement.dispatchEvent(event);
      return event.defaultPrevented;
    });
    check(prevented, 'a drop on the margin was left to the browser (it would open the file)', consoleLog);
    await messageMatching(page, /^Not used as training data: dropped.txt is not/, consoleLog);
    check(page.url() === before, `the drop navigated to ${page.url()}`, consoleLog);

    // Layout: the charts fill the column beside the pictures and settings.
    const chart = await page.locator('#chart-losses').boundingBox();
    const settings = await page.locator('form.settings').boundingBox();
    check(chart.width > 560, `the chart is ${chart.width} px wide`, consoleLog);
    check(chart.x > settings.x + settings.width, 'the charts are not beside the settings', consoleLog);
    const pixels = await page.$eval('#chart-losses', (canvas) => canvas.width);
    check(Math.abs(pixels - chart.width) <= 1, `the chart draws ${pixels} px into ${chart.width}`, consoleLog);
    check(await page.isVisible('#metrics-legend dt'), 'no legend of the metrics', consoleLog);
    await page.screenshot({ path: join(artifactsDir, 'page.png'), fullPage: true });

    const errors = consoleLog.filter((line) => /^(error|pageerror):/.test(line));
    check(errors.length === 0, `${errors.length} console error(s)`, consoleLog);
  }, { viewport });
}

async function urlRanges(url) {
  await withPage([...quietFlags, ...webGpuFlags], null, async (page, consoleLog) => {
    const query = 'preset=tiny&batch=-3&seed=99999999999999999999999&lr_d=0.5&d_steps=50';
    await openRun(page, `${url}?${query}`);
    const said = await message(page);
    for (const needle of [
      'batch must be a whole number from 2 to 4096',
      'seed must be a whole number from 0 to 18446744073709551615',
      'lr_d 5.00e-1 is outside the slider',
    ]) {
      check(said.includes(needle), `"${needle}" missing from: ${said}`, consoleLog);
    }
    check((await page.textContent('#lr-d-used')) === '5.00e-1', 'lr_d 0.5 from the URL not used', consoleLog);
    check((await page.inputValue('#d-steps')) === '50', 'd_steps 50 from the URL not shown', consoleLog);
    check((await page.getAttribute('#batch', 'max')) === '4096', 'the batch field stops short of 4096', consoleLog);
  });
}

async function slowModel(url) {
  await withPage([...quietFlags, ...webGpuFlags], null, async (page, consoleLog) => {
    await page.goto(`${url}?preset=tiny&ngf=1024`, { timeout });
    await page.waitForSelector('#busy', { timeout });
    await page.waitForFunction(
      () => /may be too large for this device: lower\s+ngf, ndf or batch/.test(document.querySelector('#busy')?.textContent ?? ''),
      null,
      { timeout: 40_000, polling: 250 },
    );
  });
}

const only = process.env.WEBGAN_CASE;
await runCases([
  ['files, Step D/G, too few images, drops, adapter line, layout', filesAndSteps],
  ['URL values out of range say what is allowed', urlRanges],
  ['a model slow to initialise shows a status and a hint', slowModel],
].filter(([name]) => !only || name.includes(only)));
