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
    await page.screenshot({ path: path.join(outDir, '1-overview-and-input.png'), fullPage: false });

    // 1b. The overview the page is organised around, the plan strip, the embedding's parts.
    check(await page.locator('#overview-flow .stage').count() >= 7, 'the architecture overview has a stage per part of the model');
    check(await page.locator('#overview-flow a[href="#head-section"]').count() === 1, 'the overview links to the step-by-step head view');
    check(await page.locator('#plan-strip .step-chip').count() === 24, 'the plan strip shows the 24 steps of the full model');
    check(await page.locator('#embedding-maps canvas').count() === 3, 'embedding drawn as token vector + position vector = input');
    check((await page.locator('#embedding-note').textContent()).includes('token vector + position vector'), 'the embedding note says how the input is made');
    await page.locator('#embedding-section').screenshot({ path: path.join(outDir, '1-embedding.png') });

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
    const shades = await page.locator('#attn-tokens .chip').evaluateAll((els) => els.map((e) => e.style.background));
    check(shades.every((b) => b.startsWith('rgb')), `every key token is shaded by its attention weight (${shades.length})`);
    // Visible: on the default (square-root) scale most keys of the query are visibly coloured.
    const visible = shades.filter((b) => { const [r, g, bl] = b.match(/\d+/g).map(Number); return r + g + bl < 3 * 245; }).length;
    check(visible >= chips.length / 2, `hover shading is visible on ${visible} of ${chips.length} key tokens`);
    const canvas = page.locator('#attn-heads canvas').nth(1);
    await canvas.scrollIntoViewIfNeeded();
    const box = await canvas.boundingBox();
    const geo = await canvas.evaluate((c) => ({ left: +c.dataset.left, top: +c.dataset.top, cell: +c.dataset.cell }));
    check(geo.left > 20 && geo.top > 20, `attention maps carry token labels on both axes (${geo.left}px, ${geo.top}px of labels)`);
    check(await page.locator('#attn-legend .legend-ticks span').count() >= 3, 'attention maps have a colour scale legend');
    const cell = geo.cell;
    await page.mouse.move(box.x + geo.left + cell * 0.5, box.y + geo.top + cell * (q + 0.5));  // query = last token, key = first
    const info2 = await page.locator('#attn-info').textContent();
    check(/head 1: query .* \(#\d+\) → key .* \(#0\): 0\.\d{4}/.test(info2), `hovering a cell names query, key and weight: ${info2}`);
    await page.locator('#attention-section').screenshot({ path: path.join(outDir, '2-attention-hover.png') });
    // MLP rows: labelled on the canvas, one row per token, in the token order.
    const mlp = await page.locator('#mlp-canvas').evaluate((c) => ({ left: +c.dataset.left, top: +c.dataset.top, cell: +c.dataset.cell, h: parseFloat(c.style.height) }));
    check(mlp.left > 20 && Math.abs(mlp.h - (mlp.top + chips.length * mlp.cell)) < 1, `MLP heatmap: labelled rows, one per token (${JSON.stringify(mlp)})`);
    await page.locator('#mlp-section').screenshot({ path: path.join(outDir, '3-mlp.png') });
    // The head step by step: click head 1's map; its softmax is recomputed from Q K^T and must match.
    await canvas.click({ position: { x: geo.left + 2, y: geo.top + 2 } });
    await page.waitForFunction(() => (document.body.dataset.headReady ?? '').startsWith('5:1:'));
    check(await page.locator('#head-steps canvas').count() >= 7, 'Q, K, V, Q Kᵀ, scaled, masked and softmax maps drawn');
    const agree = await page.locator('#head-check').textContent();
    const diff = parseFloat(/difference ([\d.e+-]+)/.exec(agree)[1]);
    check(agree.includes('matches') && diff < 2e-4, `softmax recomputed in the page matches the model's weights: ${agree}`);
    check((await page.locator('#head-steps table tr').count()) === chips.length + 1, 'the chosen query lists every key with its score, scale, mask and weight');
    await page.locator('#head-section').screenshot({ path: path.join(outDir, '3b-head-step-by-step.png') });
    await page.waitForSelector('#similarity canvas');
    check(await page.locator('#step-changes canvas').count() === 2, 'delta_norm and cos_prev are drawn per step and token');
    check((await page.locator('#lens th').allTextContents()).includes('‖Δ‖ last'), 'the lens table shows ‖Δ‖ and cos(prev)');
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

    // 4. Sample: appends a token to the prompt and reruns; the same seed draws the same token.
    await page.locator('#temperature').fill('1.5');
    await page.fill('#top-p', '0.9');
    const sampleOnce = async () => {
      await page.fill('#prompt', prompt);
      await page.click('#run');
      await page.waitForFunction(() => !document.body.classList.contains('busy'));
      await page.fill('#seed', '7');
      await page.click('#sample');
      await page.waitForFunction(() => document.querySelector('#sampled')?.textContent?.startsWith('sampled') && !document.body.classList.contains('busy'));
      return [await page.inputValue('#prompt'), await page.locator('#sampled').textContent()];
    };
    const [after, note1] = await sampleOnce();
    check(after.startsWith(prompt) && after.length > prompt.length, `sampling appended "${after.slice(prompt.length)}"`);
    check(note1.includes('seed 7') && note1.includes('top-p 0.9'), `the sample names its seed and top-p: ${note1}`);
    const [again] = await sampleOnce();
    check(again === after, 'the same seed draws the same token');
    await page.fill('#prompt', prompt);
    await page.click('#run');
    await page.waitForFunction(() => !document.body.classList.contains('busy'));
    await page.locator('#temperature').fill('1');
    await page.fill('#gen-n', '4');
    await page.click('#generate');
    await page.waitForFunction(() => document.querySelector('#gen-stats')?.textContent?.includes('tokens/s'));

    // 5. The plan control: N limited to valid values; a variant shows its expansion in the text box.
    await page.selectOption('#plan-variant', 'skip');
    check((await page.getAttribute('#plan-n', 'max')) === '11', 'N is limited to 0..11 for 24 layers');
    check(await page.locator('#plan-k').isDisabled(), 'K is disabled for skip');
    await page.fill('#plan-n', '12');
    await page.click('#apply-plan');
    check((await page.locator('#plan-preview').textContent()).includes('N must be'), `an invalid N is refused: ${await page.locator('#plan-preview').textContent()}`);
    await page.fill('#plan-n', '4');
    await page.waitForFunction(() => document.querySelector('#plan-text')?.value === '0-3,20-23');
    check(true, 'choosing skip N=4 writes its plan text 0-3,20-23');
    // Apply it: the comparison opens, previous output (the generation) is cleared.
    await page.click('#apply-plan');
    await page.waitForSelector('#compare-section:not([hidden])');
    await page.waitForFunction(() => document.querySelector('#compare-summary')?.textContent?.includes('mean KL'));
    const summary = await page.locator('#compare-summary').textContent();
    check(summary.includes('8 steps'), `comparison of the skip plan: ${summary}`);
    check(await page.locator('#compare-full .bar-row').count() >= 5 && await page.locator('#compare-plan .bar-row').count() >= 5,
          'both columns show next-token probabilities');
    check(await page.locator('#compare-kl .chip').count() === chips.length, 'a KL chip per token');
    check((await page.locator('#step-slider').getAttribute('max')) === '7', 'main views now show the 8-step plan');
    check((await page.locator('#gen-output').textContent()) === '', 'the previous plan\'s generation was cleared');
    check((await page.inputValue('#compare-layer')) === '20', 'the comparison opens on layer 20, the first that differs, not layer 0');
    await page.selectOption('#compare-layer', '10');
    await page.waitForFunction(() => document.querySelector('#compare-plan-attn')?.textContent?.includes('layer 10'));
    check((await page.locator('#compare-plan-attn').textContent()).includes('does not run'), 'layer 10 is reported absent from the skip plan');
    check(await page.locator('#compare-full-attn canvas').count() === 4, 'the full model shows layer 10\'s 4 heads');
    await page.selectOption('#compare-layer', '21');
    await page.waitForFunction(() => document.querySelectorAll('#compare-plan-attn canvas').length === 4);
    await page.locator('#compare-section').screenshot({ path: path.join(outDir, '6-compare-skip.png') });

    // 6. Free-text plan with a looped parallel group; then an invalid one.
    await page.fill('#plan-text', '0-5,[6-17]x2,18-23');
    check((await page.inputValue('#plan-variant')) === 'text', 'typing a plan switches the menu to "plan text" (no silent override)');
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
    await page.waitForFunction(() => document.querySelector('#compare-section')?.hidden === true && !document.body.classList.contains('busy'));
    await page.fill('#gen-n', '16');
    await page.click('#generate');
    await page.waitForFunction(() => document.querySelector('#gen-stats')?.textContent?.includes('tokens/s'));
    check((await page.locator('#gen-output').textContent()).length > prompt.length, 'generated text streamed into the page');

    // 8. A 112-token forward with the browser's own request headers (Chromium always offers
    // brotli; httplib's brotli took 10-60 s for this response instead of about 1 s).
    await page.waitForFunction(() => !document.body.classList.contains('busy'));
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
    // A 112-token map stays readable: under the default square-root scale most of its causal
    // cells are visibly coloured, under the linear scale far fewer.
    const inked = () => page.evaluate(() => {
      const c = document.querySelector('#attn-heads canvas');
      const ctx = c.getContext('2d');
      const dpr = window.devicePixelRatio || 1, L = +c.dataset.left * dpr, Tp = +c.dataset.top * dpr, cell = +c.dataset.cell * dpr;
      const img = ctx.getImageData(0, 0, c.width, c.height).data;
      let ink = 0, all = 0;
      for (let q = 0; q < 112; q++) for (let k = 0; k <= q; k++) {
        const x = Math.floor(L + (k + 0.5) * cell), y = Math.floor(Tp + (q + 0.5) * cell), i = 4 * (y * c.width + x);
        all++;
        if (img[i] + img[i + 1] + img[i + 2] < 3 * 235) ink++;
      }
      return ink / all;
    });
    await page.waitForFunction(() => !document.body.classList.contains('busy'));
    const inkSqrt = await inked();
    await page.selectOption('#attn-scale', 'linear');
    const inkLinear = await inked();
    await page.locator('#attention-section').screenshot({ path: path.join(outDir, '8-attention-112-linear.png') });
    await page.selectOption('#attn-scale', 'sqrt');
    await page.locator('#attention-section').screenshot({ path: path.join(outDir, '8-attention-112-sqrt.png') });
    check(inkSqrt > 0.5 && inkSqrt > 1.5 * inkLinear,
          `112-token map: ${(100 * inkSqrt).toFixed(0)}% of causal cells coloured on the square-root scale, ${(100 * inkLinear).toFixed(0)}% on the linear one`);
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
