// End-to-end test of the explainer page in headless Chromium (Debian's chromium driven by
// playwright-core from web/node_modules) against a real `layerlab serve` on a trained model:
// type a prompt and see its tokens, hover a token and a cell of an attention map, move the
// temperature slider and see the probabilities change, sample, apply plans and see the
// comparison, stream a generation, and time a 112-token forward with the browser's own headers
// (no brotli; under 1 s over the model's own time). Screenshots go to --out. Exit 77 = skipped (no chromium,
// no node_modules or no built page), so ctest reports a skip with the reason.
//
// node e2e_explainer.mjs --cli build/app/layerlab --model ../shared/models/gpt2-code-24l \
//                        --web-root web --out /tmp/shots
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';

const args = Object.fromEntries(process.argv.slice(2).reduce((acc, a, i, all) => {
  if (a.startsWith('--')) acc.push([a.slice(2), all[i + 1]]);
  return acc;
}, []));
const SKIP = 77;
const skip = (why) => { console.log(`SKIP: ${why}`); process.exit(SKIP); };
const chromiumPath = args.chromium ?? ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => fs.existsSync(p));
if (!chromiumPath) skip('chromium not installed (apt install chromium; scripts/deps.sh does it)');
const webRoot = path.resolve(args['web-root'] ?? 'web');
if (!fs.existsSync(path.join(webRoot, 'node_modules', 'playwright-core')))
  skip(`playwright-core not installed in ${webRoot}/node_modules (run: bash web/build.sh)`);
if (!fs.existsSync(path.join(webRoot, 'dist', 'index.html'))) skip(`page not built in ${webRoot}/dist (run: bash web/build.sh)`);
const { chromium } = createRequire(path.join(webRoot, 'package.json'))('playwright-core');
const outDir = path.resolve(args.out ?? 'e2e-screenshots');
fs.mkdirSync(outDir, { recursive: true });

function check(cond, what) {
  if (!cond) throw new Error(`check failed: ${what}`);
  console.log(`ok: ${what}`);
}

// Starts `layerlab serve` on a free port and resolves with its URL.
function startServer() {
  const proc = spawn(args.cli, ['serve', '--model', args.model, '--port', '0', '--web', path.join(webRoot, 'dist'), '--quiet'],
                     { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, OMP_NUM_THREADS: process.env.OMP_NUM_THREADS ?? '2' } });
  return new Promise((resolve, reject) => {
    let err = '';
    const timer = setTimeout(() => reject(new Error(`server did not start in 60 s: ${err}`)), 60000);
    proc.stderr.on('data', (d) => {
      err += d;
      const m = /http:\/\/([\d.]+):(\d+)\//.exec(err);
      if (m) { clearTimeout(timer); resolve({ proc, url: `http://${m[1]}:${m[2]}` }); }
    });
    proc.on('exit', (code) => { clearTimeout(timer); reject(new Error(`server exited with ${code}: ${err}`)); });
  });
}

// A prompt that the server tokenises to exactly n tokens (cut from a longer Python text).
async function promptOfTokens(page, url, n) {
  const tokenize = async (text) => (await (await page.request.post(url + '/api/tokenize', { data: { text } })).json());
  const pieces = [];  // token texts, one function at a time (a whole text would pass the prompt limit)
  for (let i = 0; pieces.length < n + 20; i++)
    pieces.push(...(await tokenize(`def f${i}(a, b):\n    """Scale a by b."""\n    return a * b + ${i}\n\n`)).tokens.map((t) => t.text));
  let take = n;
  for (let tries = 0; tries < 8; tries++) {
    const text = pieces.slice(0, take).join('');
    const count = (await tokenize(text)).count;
    if (count === n) return text;
    take += n - count;
  }
  throw new Error(`no prompt of exactly ${n} tokens`);
}

const firstProb = (page) => page.locator('#output-bars .prob').first().textContent();

async function main() {
  const { proc, url } = await startServer();
  const userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'layerlab-e2e-'));
  let context;
  try {
    context = await chromium.launchPersistentContext(userDir, {
      executablePath: chromiumPath,
      headless: true,
      viewport: { width: 1400, height: 1000 },
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
             '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    const page = context.pages()[0] ?? await context.newPage();
    const pageErrors = [];
    page.on('pageerror', (e) => pageErrors.push(String(e)));
    // Console errors count, except the 400 the invalid-plan step provokes on purpose.
    page.on('console', (m) => {
      if (m.type() === 'error' && !/status of 400/.test(m.text())) pageErrors.push(m.text());
    });
    page.setDefaultTimeout(60000);

    await page.goto(url + '/');
    await page.waitForSelector('#tokens .chip');
    check((await page.locator('#model-info').textContent()).includes('24 layers'), 'model info shows 24 layers');

    // 1. Type a prompt, see its tokens.
    const prompt = 'import numpy as np\n\ndef mean(xs):\n    return np.';
    await page.fill('#prompt', prompt);
    await page.click('#run');
    await page.waitForFunction(() => document.querySelector('#tokens')?.textContent?.includes('numpy'));
    const expected = await (await page.request.post(url + '/api/tokenize', { data: { text: prompt } })).json();
    const chips = await page.locator('#tokens .chip').allTextContents();
    check(chips.length === expected.count, `${chips.length} token chips = ${expected.count} tokens from /api/tokenize`);
    const joined = chips.join('').replace(/·/g, ' ').replace(/↵/g, '\n');
    check(joined === prompt, 'the token chips spell the prompt (whitespace shown as · and ↵)');
    await page.screenshot({ path: path.join(outDir, '1-tokens-and-embedding.png'), fullPage: false });

    // 2. Attention: pick step 6, hover a token, then a cell of head 1's map.
    await page.locator('#step-slider').fill('5');
    await page.waitForFunction(() => document.querySelector('#step-label')?.textContent?.startsWith('step 6/'));
    const heads = await page.locator('#attn-heads canvas').count();
    check(heads === 4, `4 attention heads drawn (${heads})`);
    const q = chips.length - 1;
    await page.locator('#attn-tokens .chip').nth(q).hover();
    const info1 = await page.locator('#attn-info').textContent();
    check(info1.includes(`(#${q}) attends most to`), `hovering token #${q} explains its attention: ${info1}`);
    check(await page.locator('#attn-tokens .chip').nth(q).evaluate((e) => e.classList.contains('query')), 'hovered token is marked as the query');
    const shaded = await page.locator('#attn-tokens .chip').evaluateAll((els) => els.filter((e) => e.style.background.includes('rgba')).length);
    check(shaded === chips.length, `every key token is shaded by its attention weight (${shaded})`);
    const canvas = page.locator('#attn-heads canvas').nth(1);
    await canvas.scrollIntoViewIfNeeded();
    const box = await canvas.boundingBox();
    const cell = box.height / chips.length;
    await page.mouse.move(box.x + cell * 0.5, box.y + cell * (q + 0.5));  // query = last token, key = first
    const info2 = await page.locator('#attn-info').textContent();
    check(/head 1: query .* \(#\d+\) → key .* \(#0\): 0\.\d{4}/.test(info2), `hovering a cell names query, key and weight: ${info2}`);
    await page.locator('#attention-section').screenshot({ path: path.join(outDir, '2-attention-hover.png') });
    await page.locator('#mlp-section').screenshot({ path: path.join(outDir, '3-mlp.png') });
    await page.locator('#lens-section').screenshot({ path: path.join(outDir, '4-logit-lens.png') });

    // 3. Temperature slider: lower temperature sharpens, higher flattens the distribution.
    const p1 = parseFloat(await firstProb(page));
    const slider = page.locator('#temperature');
    await slider.focus();
    for (let i = 0; i < 10; i++) await page.keyboard.press('ArrowLeft');  // 1.00 -> 0.50
    await page.waitForFunction(() => document.querySelector('#output-bars')?.textContent?.includes('T = 0.50'));
    const p05 = parseFloat(await firstProb(page));
    check(p05 > p1, `top-1 probability rises from ${p1}% at T=1 to ${p05}% at T=0.5`);
    await slider.scrollIntoViewIfNeeded();
    const sb = await slider.boundingBox();
    await page.mouse.click(sb.x + sb.width - 2, sb.y + sb.height / 2);  // drag to the right end: T = 2
    await page.waitForFunction(() => document.querySelector('#output-bars')?.textContent?.includes('T = 2.00'));
    const p2 = parseFloat(await firstProb(page));
    check(p2 < p1, `top-1 probability falls to ${p2}% at T=2`);
    await page.locator('#output-section').screenshot({ path: path.join(outDir, '5-temperature.png') });

    // 4. Sample: appends a token to the prompt and reruns.
    await page.locator('#temperature').fill('1');
    await page.click('#sample');
    await page.waitForFunction(() => document.querySelector('#sampled')?.textContent?.startsWith('sampled'));
    const after = await page.inputValue('#prompt');
    check(after.startsWith(prompt) && after.length > prompt.length, `sampling appended "${after.slice(prompt.length)}"`);
    await page.fill('#prompt', prompt);
    await page.click('#run');
    await page.waitForFunction(() => !document.body.classList.contains('busy'));

    // 5. Apply a plan (variant), see the side-by-side comparison.
    await page.selectOption('#plan-variant', 'skip');
    await page.fill('#plan-n', '4');
    await page.click('#apply-plan');
    await page.waitForSelector('#compare-section:not([hidden])');
    await page.waitForFunction(() => document.querySelector('#compare-summary')?.textContent?.includes('mean KL'));
    const summary = await page.locator('#compare-summary').textContent();
    check(summary.includes('8 steps'), `comparison of the skip plan: ${summary}`);
    check(await page.locator('#compare-full .bar-row').count() >= 5 && await page.locator('#compare-plan .bar-row').count() >= 5,
          'both columns show next-token probabilities');
    check(await page.locator('#compare-kl .chip').count() === chips.length, 'a KL chip per token');
    check((await page.locator('#step-slider').getAttribute('max')) === '7', 'main views now show the 8-step plan');
    await page.selectOption('#compare-layer', '10');
    await page.waitForFunction(() => document.querySelector('#compare-plan-attn')?.textContent?.includes('layer 10'));
    check((await page.locator('#compare-plan-attn').textContent()).includes('does not run'), 'layer 10 is reported absent from the skip plan');
    check(await page.locator('#compare-full-attn canvas').count() === 4, 'the full model shows layer 10\'s 4 heads');
    await page.selectOption('#compare-layer', '21');
    await page.waitForFunction(() => document.querySelectorAll('#compare-plan-attn canvas').length === 4);
    await page.locator('#compare-section').screenshot({ path: path.join(outDir, '6-compare-skip.png') });

    // 6. Free-text plan with a looped parallel group; then an invalid one.
    await page.fill('#plan-text', '0-5,[6-17]x2,18-23');
    await page.click('#apply-plan');
    await page.waitForFunction(() => document.querySelector('#compare-summary')?.textContent?.includes('[6-17]x2'));
    check((await page.locator('#plan-preview').textContent()).includes('36 layer applications'), 'plan preview counts applications');
    await page.locator('#step-slider').fill('6');
    await page.waitForFunction(() => document.querySelector('#step-label')?.textContent?.includes('[6-17]x2'));
    check(await page.locator('#app-select option').count() === 24, 'a parallel group step lists its 12 x 2 layer applications');
    await page.screenshot({ path: path.join(outDir, '7-full-page-plan.png'), fullPage: true });
    await page.fill('#plan-text', '0-99');
    await page.click('#apply-plan');
    await page.waitForFunction(() => document.querySelector('#plan-preview')?.classList.contains('error'));
    check((await page.locator('#plan-preview').textContent()).includes('plan'), `an invalid plan is reported: ${await page.locator('#plan-preview').textContent()}`);

    // 7. Streamed generation.
    await page.fill('#plan-text', '');
    await page.selectOption('#plan-variant', 'full');
    await page.click('#apply-plan');
    await page.waitForFunction(() => document.querySelector('#compare-section')?.hidden === true);
    await page.fill('#gen-n', '16');
    await page.click('#generate');
    await page.waitForFunction(() => document.querySelector('#gen-stats')?.textContent?.includes('tokens/s'));
    check((await page.locator('#gen-output').textContent()).length > prompt.length, 'generated text streamed into the page');

    // 8. A 112-token forward with the browser's own request headers (Chromium always offers
    // brotli; httplib's brotli took 10-60 s for this response instead of about 1 s).
    const text112 = await promptOfTokens(page, url, 112);
    await page.fill('#prompt', text112);
    const fwd = page.waitForResponse((r) => r.url().endsWith('/api/forward'), { timeout: 120000 });
    await page.click('#run');
    const res = await fwd;
    await res.finished();
    const sent = await res.request().allHeaders();
    const timing = await page.evaluate(() => {
      const e = performance.getEntriesByType('resource').filter((r) => r.name.endsWith('/api/forward')).pop();
      return e ? e.responseEnd - e.startTime : -1;
    });
    await page.waitForFunction(() => document.querySelectorAll('#tokens .chip').length === 112);
    const body112 = await res.body();
    console.log(`112-token /api/forward in the page: ${timing.toFixed(0)} ms (model ${JSON.parse(body112).elapsed_ms} ms), ` +
                `Accept-Encoding '${sent['accept-encoding']}', Content-Encoding '${res.headers()['content-encoding'] ?? ''}', ` +
                `${body112.length} bytes`);
    check(/br/.test(sent['accept-encoding'] ?? ''), `the browser offered brotli (${sent['accept-encoding']})`);
    check(res.headers()['content-encoding'] !== 'br', 'the server did not answer with brotli');
    // What the page adds to the model's own time (transfer, encoding, parsing) must stay small:
    // brotli added 8-60 s. The model's time itself depends on how busy this shared machine is
    // (1.7 s quiet, 2.6 s with a parallel build), so the bound is on the overhead; the absolute
    // time is printed above and the quiet-machine figure is in docs/EXPLAINER.md.
    const overhead = timing - JSON.parse(body112).elapsed_ms;
    check(timing > 0 && overhead < 1000,
          `a 112-token forward adds under 1 s to the model's time in the page (${timing.toFixed(0)} ms, ${overhead.toFixed(0)} ms over the model)`);

    check(pageErrors.length === 0, `no page errors (${pageErrors.join(' | ')})`);
    console.log(`screenshots in ${outDir}`);
  } finally {
    if (context) await context.close();
    proc.kill('SIGTERM');
    fs.rmSync(userDir, { recursive: true, force: true });
  }
}

main().then(() => process.exit(0), (e) => { console.error(`FAIL: ${e.stack ?? e}`); process.exit(1); });
