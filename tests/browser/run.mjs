// flyt's pages in a real browser: Debian's chromium driven by playwright-core, against a real
// `flyt serve` on loopback (memory storage, the development authority on, the example apps plus
// two test apps written below). The scenarios (1-4 of issue 18):
//   1. designer: build start → data task → gateway → two tasks → end from the palette; the
//      gateway's problem appears in the Problems panel and disappears when fixed; deploy; the
//      API serves that version.
//   2. designer: every Altinn conformance file (../shared/conformance/altinn, read in place) and
//      every example app opens and saves with every extension element and attribute unchanged.
//   3. operate: the service owner signs in through the picker (an organisation token);
//      instances created through the API are listed; the instance page marks the
//      active task; a failing external job's incident shows on its element; Retry moves it on.
//   4. markup in a task name and a data value stays text: no element is made from it, no
//      script runs.
//   5. designer, keyboard only: start → task → end built with the side panel's controls and
//      bpmn-js's own shortcuts on the focused diagram, seen in the saved XML.
//   7. designer: a timer boundary event's value and interrupting flag in the properties form,
//      checked by the server's validator as they change.
//   6. designer: a PDF task's <altinn:pdfConfig> is shown in the properties form, edited, and
//      set back to exactly the file it was.
// Each scenario saves a screenshot in target/browser/. Every wait has a deadline (playwright's
// waits, or polls); nothing sleeps. Exit status 0 when all pass.
//
// Environment: FLYT_BIN (default target/debug/flyt), FLYT_SHARED_DIR (default ../shared next
// to the repository), CHROMIUM (default /usr/bin/chromium).
import { chromium } from 'playwright-core';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync, readdirSync, mkdirSync, cpSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname, resolve, basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '..', '..');
const targetDir = process.env.CARGO_TARGET_DIR ? resolve(process.env.CARGO_TARGET_DIR) : join(repo, 'target');
const flytBin = process.env.FLYT_BIN || join(targetDir, 'debug', 'flyt');
const shared = process.env.FLYT_SHARED_DIR || resolve(repo, '..', 'shared');
const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium';
const shots = join(targetDir, 'browser');
const WAIT = 20000;
mkdirSync(shots, { recursive: true });

const XSS = '<img src=x onerror="window.__flytXss=1">';
const xmlEscape = (s) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

// ---- a server ----------------------------------------------------------------------------

const work = mkdtempSync(join(tmpdir(), 'flyt-browser-'));
const processes = join(work, 'processes');
cpSync(join(repo, 'processes'), processes, { recursive: true });

// An app for scenario 1 (deploy target): owners may do everything; designers use the scope.
mkdirSync(join(processes, 'ttd', 'designed'), { recursive: true });
writeFileSync(join(processes, 'ttd', 'designed', 'app.toml'), `title = "Designed in the browser"
owner_types = ["person"]
[[rules]]
subjects = ["owner"]
actions = ["read", "instantiate", "write", "confirm", "delete"]
`);
writeFileSync(join(processes, 'ttd', 'designed', 'process.bpmn'), readFileSync(join(repo, 'api', 'ui', 'template.bpmn')));

// An app for scenarios 3 and 4: fill in → an external job `check` → review (whose name is
// markup) → end. No diagram in the file: operate lays it out.
mkdirSync(join(processes, 'ttd', 'ui-jobs'), { recursive: true });
writeFileSync(join(processes, 'ttd', 'ui-jobs', 'app.toml'), `title = "Operate test"
owner_types = ["person"]
[jobs]
external = ["check"]
[[data_types]]
id = "form"
task = "Fill"
[[rules]]
subjects = ["owner"]
actions = ["read", "instantiate", "write", "confirm"]
[[rules]]
subjects = ["org:ttd"]
actions = ["read", "deploy", "resume"]
`);
writeFileSync(join(processes, 'ttd', 'ui-jobs', 'process.bpmn'), `<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:altinn="http://altinn.no/process"
    xmlns:flyt="urn:flyt:bpmn:1" id="d" targetNamespace="urn:test">
  <bpmn:process id="p" isExecutable="true">
    <bpmn:startEvent id="Start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:task id="Fill" name="Fill in">
      <bpmn:extensionElements><altinn:taskExtension><altinn:taskType>data</altinn:taskType></altinn:taskExtension></bpmn:extensionElements>
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
    </bpmn:task>
    <bpmn:serviceTask id="Check" name="Check" flyt:type="check"><bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing></bpmn:serviceTask>
    <bpmn:task id="Review" name="${xmlEscape(XSS)}">
      <bpmn:extensionElements><altinn:taskExtension><altinn:taskType>confirmation</altinn:taskType>
        <altinn:actions><altinn:action>confirm</altinn:action></altinn:actions></altinn:taskExtension></bpmn:extensionElements>
      <bpmn:incoming>f3</bpmn:incoming><bpmn:outgoing>f4</bpmn:outgoing>
    </bpmn:task>
    <bpmn:endEvent id="End"><bpmn:incoming>f4</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="Start" targetRef="Fill"/>
    <bpmn:sequenceFlow id="f2" sourceRef="Fill" targetRef="Check"/>
    <bpmn:sequenceFlow id="f3" sourceRef="Check" targetRef="Review"/>
    <bpmn:sequenceFlow id="f4" sourceRef="Review" targetRef="End"/>
  </bpmn:process>
</bpmn:definitions>
`);

const configFile = join(work, 'flyt.toml');
writeFileSync(configFile, `listen = "127.0.0.1:0"
processes_dir = "${processes}"
[storage]
backend = "memory"
data_dir = "${join(work, 'data')}"
[dev_authority]
enabled = true
`);

let server = null;
let browserContext = null;
async function cleanup() {
  if (browserContext) await browserContext.close().catch(() => {});
  if (server && server.exitCode === null) {
    server.kill('SIGTERM');
    await new Promise((r) => { const t = setTimeout(() => { server.kill('SIGKILL'); r(); }, 5000); server.once('exit', () => { clearTimeout(t); r(); }); });
  }
  rmSync(work, { recursive: true, force: true });
}

function startServer() {
  return new Promise((resolveStart, rejectStart) => {
    server = spawn(flytBin, ['serve', '--config', configFile], {
      env: { ...process.env, FLYT_LOG: 'warn' }, stdio: ['ignore', 'pipe', 'pipe']
    });
    let out = '';
    let err = '';
    const timer = setTimeout(() => rejectStart(new Error('flyt serve did not start in 60 s: ' + err)), 60000);
    server.stderr.on('data', (d) => { err += d; });
    server.stdout.on('data', (d) => {
      out += d;
      const url = /flyt listening on (\S+)/.exec(out);
      const designer = /designer: (\S+)/.exec(out);
      const operate = /operate: +(\S+)/.exec(out);
      if (url && designer && operate) {
        clearTimeout(timer);
        resolveStart({ url: url[1], designer: designer[1], operate: operate[1] });
      }
    });
    server.on('exit', (code) => { clearTimeout(timer); rejectStart(new Error(`flyt serve exited (${code}): ${err}`)); });
  });
}

async function http(method, url, token, body, extra = {}) {
  const headers = { ...extra };
  if (token) headers.authorization = 'Bearer ' + token;
  let payload;
  if (body !== undefined) { headers['content-type'] = 'application/json'; payload = JSON.stringify(body); }
  const r = await fetch(url, { method, headers, body: payload });
  const text = await r.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  return { status: r.status, headers: r.headers, text, json };
}

// Polls `check` until it answers something truthy, at most `within` ms.
async function until(what, within, check) {
  const deadline = Date.now() + within;
  let last;
  for (;;) {
    last = await check();
    if (last) return last;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setImmediate(r));
  }
}

// ---- the scenarios ------------------------------------------------------------------------

const results = [];
async function scenario(name, body) {
  const started = Date.now();
  try {
    await body();
    results.push([name, 'passed', Date.now() - started]);
    console.log(`ok   ${name} (${Date.now() - started} ms)`);
  } catch (e) {
    results.push([name, 'FAILED', Date.now() - started]);
    console.log(`FAIL ${name}: ${e.stack || e}`);
  }
}

function watch(page, problems) {
  page.on('pageerror', (e) => problems.push('page error: ' + e.message));
  page.on('console', (m) => {
    // Refusals the pages handle and show (a deploy refused with 422, a definition the caller
    // may not read: 403) are logged by the browser as failed loads; anything else is a problem.
    if (/Failed to load resource: the server responded with a status of (401|403|409|422)/.test(m.text())) return;
    if (m.type() === 'error' || /Content Security Policy|Refused to/.test(m.text())) problems.push('console: ' + m.text());
  });
  page.on('dialog', (d) => { problems.push('dialog: ' + d.message()); d.dismiss(); });
}

// Every control of the page's own (bpmn-js's canvas aside) has an accessible name.
async function unlabelled(page) {
  return page.evaluate(() => [...document.querySelectorAll('input, select, textarea, button')]
    .filter((e) => !e.closest('.djs-container') && e.type !== 'hidden')
    .filter((e) => {
      if (e.getAttribute('aria-label') || e.getAttribute('aria-labelledby')) return false;
      if (e.tagName === 'BUTTON') return !e.textContent.trim();
      return !(e.id && document.querySelector(`label[for="${e.id}"]`));
    })
    .map((e) => e.outerHTML));
}

async function signInAsUser(page, scopes) {
  await page.locator('#dev-login').waitFor({ state: 'visible', timeout: WAIT });
  await page.fill('#login-pid', '01017012345');
  await page.setChecked('#login-designer', scopes.includes('designer'));
  await page.setChecked('#login-operator', scopes.includes('operator'));
  await page.click('#login-get');
  await page.locator('#signed-in', { hasText: 'Signed in as user 01017012345' }).waitFor({ timeout: WAIT });
}

// The picker's other kind: an organisation token from /authority/org-token. Chosen with the
// keyboard (the radio group is reachable and labelled like the rest of the panel).
async function signInAsOrganisation(page, orgno, code, scopes) {
  await page.locator('#dev-login').waitFor({ state: 'visible', timeout: WAIT });
  await page.focus('#login-kind-user');
  await page.keyboard.press('ArrowDown');
  assert.equal(await page.isChecked('#login-kind-org'), true, 'the arrow key picks "an organisation"');
  await page.locator('#login-org-fields').waitFor({ state: 'visible', timeout: WAIT });
  assert.equal(await page.locator('#login-user-fields').isHidden(), true, 'the user fields fold away');
  await page.getByLabel('Organisation number').fill(orgno);
  await page.getByLabel('Org code (optional)').fill(code);
  await page.setChecked('#login-designer', scopes.includes('designer'));
  await page.setChecked('#login-operator', scopes.includes('operator'));
  await page.setChecked('#login-jobs', scopes.includes('jobs'));
  await page.click('#login-get');
  await page.locator('#signed-in', { hasText: `Signed in as organisation ${orgno} (${code})` }).waitFor({ timeout: WAIT });
}

// Diagram coordinates → page coordinates of the canvas.
async function place(page, paletteAction, x, y) {
  await page.click(`.djs-palette [data-action="${paletteAction}"]`);
  const box = await page.locator('#canvas').boundingBox();
  // Several moves: diagram-js starts the drag, then finds the canvas under the pointer.
  for (let i = 4; i >= 0; i--) await page.mouse.move(box.x + x - i * 8, box.y + y);
  await page.mouse.click(box.x + x, box.y + y);
  const id = await page.evaluate(() => window.flytDesigner.get('selection').get()[0].id);
  placed[id] = { x: box.x + x, y: box.y + y };
  return id;
}

// Where place() put each element, in page coordinates.
const placed = {};

// The palette's global connect tool: press on the source, drag to the target, release.
async function connect(page, fromId, toId) {
  const from = placed[fromId];
  const to = placed[toId];
  await page.click('.djs-palette [data-action="global-connect-tool"]');
  for (let i = 4; i >= 0; i--) await page.mouse.move(from.x - i * 4, from.y);
  await page.mouse.down();
  for (let i = 8; i >= 0; i--) await page.mouse.move(to.x - i * 10, to.y);
  await page.mouse.up();
  const flow = await page.evaluate(([a, b]) => {
    const flows = window.flytDesigner.get('elementRegistry').filter((e) => e.type === 'bpmn:SequenceFlow' &&
      e.businessObject.sourceRef.id === a && e.businessObject.targetRef.id === b);
    return flows.length ? flows[0].id : null;
  }, [fromId, toId]);
  if (!flow) await page.screenshot({ path: join(shots, `1-designer-failed-connect.png`) });
  return flow;
}

async function selectElement(page, id) {
  await page.evaluate((i) => {
    const m = window.flytDesigner;
    m.get('selection').select(m.get('elementRegistry').get(i));
  }, id);
  await page.locator('#prop-id').and(page.locator(`[value="${id}"]`)).waitFor({ timeout: WAIT });
}

async function main() {
  if (!existsSync(flytBin)) throw new Error(`no flyt binary at ${flytBin} (cargo build -p flyt-api)`);
  const urls = await startServer();
  const base = urls.url;
  assert.equal(urls.designer, base + '/designer', 'flyt serve prints the designer URL');
  assert.equal(urls.operate, base + '/operate', 'flyt serve prints the operate URL');
  const userToken = (await http('POST', base + '/authority/user-token', null,
    { pid: '01017012345', scope: 'flyt:designer flyt:operator' })).json.access_token;
  const orgToken = execFileSync(flytBin, ['token', 'org', '--config', configFile, '--org', '974760673', '--code', 'ttd',
    '--scope', 'flyt:jobs'], { env: { ...process.env, FLYT_PUBLIC_URL: base, FLYT_LOG: 'error' } }).toString().trim();
  orgTokenForOperate = orgToken;

  const page0 = await http('GET', base + '/designer');
  assert.equal(page0.status, 200);
  const csp = page0.headers.get('content-security-policy') || '';
  assert.match(csp, /script-src 'self'/);
  assert.doesNotMatch(csp, /unsafe-inline'[^;]*script|script-src[^;]*unsafe/);

  // A fresh profile, inside the work directory the cleanup removes.
  const profile = mkdtempSync(join(work, 'chromium-'));
  browserContext = await chromium.launchPersistentContext(profile, {
    executablePath: chromiumPath,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1400, height: 900 }
  });
  // Loopback only: anything else the pages try to fetch is refused and reported.
  const offsite = [];
  await browserContext.route('**/*', (route) => {
    const u = new URL(route.request().url());
    if (u.origin === base || u.protocol === 'data:' || u.protocol === 'blob:') return route.continue();
    offsite.push(u.href);
    return route.abort();
  });

  // 1 -----------------------------------------------------------------------------------------
  await scenario('1 designer: build from the palette, problems come and go, deploy', async () => {
    const problems = [];
    const page = await browserContext.newPage();
    watch(page, problems);
    await page.goto(urls.designer);
    await page.locator('.bjs-powered-by').waitFor({ state: 'visible', timeout: WAIT });
    await signInAsUser(page, ['designer']);
    await page.locator('#app option[value="ttd/designed"]').waitFor({ state: 'attached', timeout: WAIT });
    await page.selectOption('#app', 'ttd/designed');
    await page.click('#new-empty');
    await page.locator('#status', { hasText: 'Opened an empty diagram' }).waitFor({ timeout: WAIT });

    // Right of the palette (which covers the canvas's left edge).
    const start = await place(page, 'create.start-event', 200, 220);
    const fill = await place(page, 'altinn-data', 340, 220);
    const gateway = await place(page, 'create.exclusive-gateway', 500, 220);
    const confirm = await place(page, 'altinn-confirmation', 660, 120);
    const feedback = await place(page, 'altinn-feedback', 660, 320);
    const end = await place(page, 'create.end-event', 840, 220);
    const flows = [];
    for (const [a, b] of [[start, fill], [fill, gateway], [gateway, confirm], [gateway, feedback], [confirm, end], [feedback, end]]) {
      const flow = await connect(page, a, b);
      assert.ok(flow, `a flow from ${a} to ${b}`);
      flows.push(flow);
    }
    // Properties: the data task's id and name.
    await selectElement(page, fill);
    await page.fill('#prop-id', 'Fill');
    await page.press('#prop-id', 'Enter');
    await page.fill('#prop-name', 'Fill in the form');
    await page.press('#prop-name', 'Tab');
    assert.equal(await page.evaluate(() => window.flytDesigner.get('elementRegistry').get('Fill').businessObject.name), 'Fill in the form');

    // The confirmation task's actions.
    await selectElement(page, confirm);
    assert.equal(await page.inputValue('#prop-task-type'), 'confirmation');
    await page.fill('#prop-actions', 'confirm, reject');
    await page.press('#prop-actions', 'Tab');

    // The gateway has two unconditioned flows and no default: the server's validator says so.
    const gatewayProblem = page.locator(`#problems button[data-element="${gateway}"]`).first();
    await gatewayProblem.waitFor({ timeout: WAIT });
    await page.screenshot({ path: join(shots, '1-designer-problem.png') });
    assert.deepEqual(await unlabelled(page), [], 'every control is labelled');
    // Deploying it is refused, and the refusal's diagnostics are in the panel and announced.
    await page.click('#deploy');
    await page.locator('#alert[role="alert"]', { hasText: 'Deploy refused (422)' }).waitFor({ timeout: WAIT });
    await page.locator('#problems-summary', { hasText: 'Deploy refused' }).waitFor({ timeout: WAIT });
    await gatewayProblem.waitFor({ timeout: WAIT });
    // Clicking the problem selects the gateway.
    await gatewayProblem.click();
    await page.locator('#prop-id').and(page.locator(`[value="${gateway}"]`)).waitFor({ timeout: WAIT });

    // Fix it: a condition on one flow (checked as typed), the other the default.
    await selectElement(page, flows[2]);
    await page.fill('#prop-condition', '["equals", ["gatewayAction"');
    await page.locator('#prop-condition-check', { hasText: 'Not valid JSON' }).waitFor({ timeout: WAIT });
    await page.fill('#prop-condition', '["equals", ["gatewayAction"], "confirm"]');
    await page.locator('#prop-condition-check', { hasText: 'Well-formed' }).waitFor({ timeout: WAIT });
    await page.press('#prop-condition', 'Tab');
    await selectElement(page, flows[3]);
    await page.check('#prop-is-default');
    await page.locator('#problems-summary', { hasText: '0 error(s)' }).or(page.locator('#problems-summary', { hasText: 'No problems' })).waitFor({ timeout: WAIT });
    assert.equal(await page.locator(`#problems button[data-element="${gateway}"]`).count(), 0, 'the gateway problem is gone');

    await page.click('#deploy');
    await page.locator('#status', { hasText: 'Deployed ttd/designed version 2' }).waitFor({ timeout: WAIT });
    await page.screenshot({ path: join(shots, '1-designer-deployed.png') });
    const served = await http('GET', base + '/ttd/designed/process/definition', userToken);
    assert.equal(served.status, 200);
    assert.equal(served.headers.get('x-definition-version'), '2');
    assert.ok(served.text.includes(`id="${gateway}"`) && served.text.includes('default=') && served.text.includes('id="Fill"'),
      'the API serves the deployed version');
    assert.ok(/<altinn:action>confirm<\/altinn:action>\s*<altinn:action>reject<\/altinn:action>/.test(served.text), 'the actions set in the form');
    assert.ok(served.text.includes('<bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">["equals", ["gatewayAction"], "confirm"]</bpmn:conditionExpression>'), 'the condition set in the form');
    // Compared with version 1 (the template): Fill changed (its name), the gateway added,
    // the template's end event removed.
    await page.locator('#version option[value="1"]').waitFor({ state: 'attached', timeout: WAIT });
    await page.selectOption('#version', '1');
    await page.click('#compare');
    await page.locator('#changes-summary', { hasText: 'differ from ttd/designed version 1' }).waitFor({ timeout: WAIT });
    assert.equal(await page.locator('#changes [data-change="changed"][data-element="Fill"]').count(), 1);
    assert.equal(await page.locator(`#changes [data-change="added"][data-element="${gateway}"]`).count(), 1);
    assert.equal(await page.locator('#changes [data-change="removed"][data-element="End"]').count(), 1);
    await page.screenshot({ path: join(shots, '1-designer-compare.png') });

    // And it runs: an instance starts at the data task.
    const created = await http('POST', base + '/ttd/designed/instances', userToken, {});
    assert.equal(created.status, 201, created.text);
    assert.equal(created.json.process.currentTask.elementId, 'Fill');

    // A deployed definition without a diagram (laid out on opening) is edited like any other:
    // delete the flow into the gateway with the keyboard, a problem appears; undo, it goes.
    await page.selectOption('#app', 'ttd/approval');
    await page.click('#open');
    await page.locator('#status', { hasText: 'Opened ttd/approval version 1 (laid out' }).waitFor({ timeout: WAIT });
    await page.locator('#problems-summary', { hasText: 'No problems' }).waitFor({ timeout: WAIT });
    const into = await page.locator('.djs-connection[data-element-id="Flow_fill_amount"] .djs-hit').first().boundingBox();
    await page.mouse.click(into.x + into.width / 2, into.y + into.height / 2);
    await page.keyboard.press('Delete');
    await page.locator('#problems-summary', { hasText: 'error' }).waitFor({ timeout: WAIT });
    await page.keyboard.press('Control+z');
    await page.locator('#problems-summary', { hasText: 'No problems' }).waitFor({ timeout: WAIT });
    assert.deepEqual(problems, []);
    await page.close();
  });

  // 2 -----------------------------------------------------------------------------------------
  await scenario('2 designer: open and save every Altinn conformance file, extensions unchanged', async () => {
    const problems = [];
    const dir = join(shared, 'conformance', 'altinn');
    const files = [];
    if (existsSync(dir)) {
      files.push(...readdirSync(dir).filter((n) => n.endsWith('.bpmn')).map((n) => join(dir, n)));
      assert.ok(files.length >= 11, 'conformance files found');
    } else {
      assert.notEqual(process.env.FLYT_REQUIRE_SHARED, '1', `the Altinn conformance files are not at ${dir} (set FLYT_SHARED_DIR)`);
      console.log(`     SKIPPED the Altinn conformance files: ${dir} not found (set FLYT_SHARED_DIR); the example apps only`);
    }
    for (const org of readdirSync(processes)) {
      for (const app of readdirSync(join(processes, org))) {
        // flyt's layout, or an Altinn app repository's own (App/config/process/process.bpmn).
        const flyt = join(processes, org, app, 'process.bpmn');
        files.push(existsSync(flyt) ? flyt : join(processes, org, app, 'App', 'config', 'process', 'process.bpmn'));
      }
    }
    // The older Altinn generation's attribute form, in the older namespace.
    const older = join(work, 'older-attribute-form.bpmn');
    writeFileSync(older, `<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:altinn="http://altinn.no" id="d" targetNamespace="urn:t">
  <bpmn:process id="p" isExecutable="true">
    <bpmn:startEvent id="S"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:task id="T" altinn:tasktype="data"><bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing></bpmn:task>
    <bpmn:endEvent id="E"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="S" targetRef="T"/>
    <bpmn:sequenceFlow id="f2" sourceRef="T" targetRef="E"/>
  </bpmn:process>
</bpmn:definitions>
`);
    files.push(older);
    const page = await browserContext.newPage();
    watch(page, problems);
    await page.goto(urls.designer);
    await page.locator('.bjs-powered-by').waitFor({ state: 'visible', timeout: WAIT });
    let checked = 0;
    for (const file of files) {
      const original = readFileSync(file, 'utf8');
      await page.setInputFiles('#file', { name: basename(file), mimeType: 'application/xml', buffer: Buffer.from(original) });
      await page.locator('#status', { hasText: 'Opened ' + basename(file) }).waitFor({ timeout: WAIT });
      const outcome = await page.evaluate(async (xml) => {
        const saved = (await window.flytDesigner.saveXML({ format: true })).xml;
        const NS = ['http://altinn.no/process', 'http://altinn.no', 'urn:flyt:bpmn:1'];
        // Every extension element (namespace, path from the nearest element with an id, its
        // attributes and text) and every extension attribute on any element.
        function extensions(text) {
          const doc = new DOMParser().parseFromString(text, 'application/xml');
          if (doc.getElementsByTagName('parsererror').length) return ['parse error'];
          const found = [];
          const all = doc.getElementsByTagName('*');
          for (const e of all) {
            for (const a of e.attributes) {
              if (NS.includes(a.namespaceURI)) found.push(`attr ${owner(e)} {${a.namespaceURI}}${a.localName}=${a.value}`);
            }
            if (!NS.includes(e.namespaceURI)) continue;
            const attrs = [...e.attributes].filter((a) => !a.name.startsWith('xmlns')).map((a) => `${a.localName}=${a.value}`).sort();
            const ownText = [...e.childNodes].filter((n) => n.nodeType === 3).map((n) => n.data).join('').trim();
            found.push(`elem ${owner(e)} ${path(e)} [${attrs.join(' ')}] "${ownText}"`);
          }
          return found.sort();
        }
        function owner(e) {
          for (let n = e; n && n.nodeType === 1; n = n.parentNode) if (n.getAttribute('id') && !NS.includes(n.namespaceURI)) return n.getAttribute('id');
          return '-';
        }
        function path(e) {
          const parts = [];
          for (let n = e; n && n.nodeType === 1 && NS.includes(n.namespaceURI); n = n.parentNode) parts.unshift(`{${n.namespaceURI}}${n.localName}`);
          return parts.join('/');
        }
        const notKept = [...document.querySelectorAll('#problems .problem')].map((p) => p.textContent).filter((t) => t.includes('not-kept'));
        return { before: extensions(xml), after: extensions(saved), notKept };
      }, original);
      assert.deepEqual(outcome.after, outcome.before, `${basename(file)}: extensions changed on save`);
      assert.deepEqual(outcome.notKept, [], `${basename(file)}: the designer reports content it cannot keep`);
      checked += 1;
      if (file.includes('app-template-v9') || file.includes('ttd-service-tasks')) {
        await page.screenshot({ path: join(shots, `2-designer-${basename(file, '.bpmn')}.png`) });
      }
    }
    console.log(`     ${checked} files saved with their extensions unchanged`);

    // The createInstance form (an example app's task, named by its Altinn task type).
    const grant = files.find((f) => f.endsWith(join('grant-application', 'process.bpmn')));
    await page.setInputFiles('#file', { name: 'grant-application.bpmn', mimeType: 'application/xml', buffer: readFileSync(grant) });
    await page.locator('#status', { hasText: 'Opened grant-application.bpmn' }).waitFor({ timeout: WAIT });
    await selectElement(page, 'SendToCaseHandling');
    assert.equal(await page.inputValue('#prop-handler'), 'createInstance');
    assert.equal(await page.inputValue('#prop-target'), 'acme/grant-case');
    assert.equal(await page.inputValue('#prop-owner'), '991825827');
    const prefill = await page.inputValue('#prop-prefill');
    assert.ok(prefill.includes('applicant.name -> applicant.name') && prefill.includes('"acme/grant-application" -> source'), prefill);
    await page.fill('#prop-target', 'acme/other-case');
    await page.press('#prop-target', 'Tab');
    await page.fill('#prop-prefill', prefill + '\npurpose -> note');
    await page.press('#prop-prefill', 'Tab');
    const grantSaved = await page.evaluate(async () => (await window.flytDesigner.saveXML({ format: true })).xml);
    assert.ok(grantSaved.includes('<flyt:createInstance target="acme/other-case">'), grantSaved);
    assert.ok(grantSaved.includes('<flyt:prefill from="purpose" to="note" />'), grantSaved);
    assert.ok(grantSaved.includes('<flyt:prefill value="acme/grant-application" to="source" />'), grantSaved);
    assert.ok(grantSaved.includes('<flyt:owner organisationNumber="991825827" />'), grantSaved);
    await page.screenshot({ path: join(shots, '2-designer-create-instance-form.png') });

    // The signing form edits the signature config and keeps what it does not show.
    const signing = files.find((f) => f.endsWith('app-lib-dotnet__signing-task-process.bpmn'));
    if (signing) {
      await page.setInputFiles('#file', { name: basename(signing), mimeType: 'application/xml', buffer: readFileSync(signing) });
      await page.locator('#status', { hasText: 'Opened ' + basename(signing) }).waitFor({ timeout: WAIT });
      await selectElement(page, 'Task2');
      assert.equal(await page.inputValue('#prop-task-type'), 'signing');
      assert.equal(await page.inputValue('#prop-actions'), 'sign, reject');
      assert.equal(await page.inputValue('#prop-sign-types'), 'Model');
      assert.equal(await page.inputValue('#prop-signature-type'), 'signature');
      await page.fill('#prop-sign-types', 'Model, Attachment');
      await page.press('#prop-sign-types', 'Tab');
      const saved = await page.evaluate(async () => (await window.flytDesigner.saveXML({ format: true })).xml);
      assert.ok(/<altinn:dataType>Model<\/altinn:dataType>\s*<altinn:dataType>Attachment<\/altinn:dataType>/.test(saved), saved);
      assert.ok(saved.includes('<altinn:correspondenceResource env="tt02">correspondenceResourceTt02</altinn:correspondenceResource>'), 'kept');
      await page.screenshot({ path: join(shots, '2-designer-signing-form.png') });
    }
    assert.deepEqual(problems, []);
    await page.close();
  });

  // 3 and 4 share the instances: created through the API.
  const create = async (note) => {
    const r = await http('POST', base + '/ttd/ui-jobs/instances', userToken, { data: { form: { note } } });
    assert.equal(r.status, 201, r.text);
    return r.json.id;
  };
  const failing = await create(XSS);
  const waiting = await create('plain');
  await create('third');
  const moved = await http('PUT', `${base}/ttd/ui-jobs/instances/${failing}/process/next`, userToken);
  assert.equal(moved.status, 200, moved.text);
  const activate = () => http('POST', base + '/jobs/activate', orgToken,
    { jobTypes: ['check'], maxJobs: 10, lockDurationMs: 60000, workerId: 'browser-test' });
  const job = await until('the check job', WAIT, async () => (await activate()).json.jobs.find((j) => j.instanceId === failing));
  const failed = await http('POST', `${base}/jobs/${job.key}/fail`, orgToken, { errorMessage: 'register unreachable', retries: 0 });
  assert.equal(failed.json.state, 'incident', failed.text);

  // 3 -----------------------------------------------------------------------------------------
  await scenario('3 operate: list, active task, incident on its element, Retry moves it on', async () => {
    const problems = [];
    const page = await browserContext.newPage();
    watch(page, problems);
    await page.goto(urls.operate);
    // The service owner ttd (reads every owner's instances), signed in through the picker as an
    // organisation; scenario 4 pastes a token instead, so both ways stay tested.
    await signInAsOrganisation(page, '974760673', 'ttd', ['jobs']);
    await page.locator('#app option[value="ttd/ui-jobs"]').waitFor({ state: 'attached', timeout: WAIT });
    await page.selectOption('#app', 'ttd/ui-jobs');
    await page.locator('#instances tbody tr').nth(2).waitFor({ timeout: WAIT });
    assert.equal(await page.locator('#instances tbody tr').count(), 3);
    // Counts on the app's diagram: two instances at Fill, one at Check.
    await page.locator('.badge.count[data-count-for="Fill"]', { hasText: '2' }).waitFor({ timeout: WAIT });
    await page.locator('.badge.count[data-count-for="Check"]', { hasText: '1' }).waitFor({ timeout: WAIT });
    await page.selectOption('#f-state', 'incident');
    await page.click('#load');
    await page.locator('#list-summary', { hasText: '1 of 3' }).waitFor({ timeout: WAIT });
    await page.screenshot({ path: join(shots, '3-operate-list.png'), fullPage: true });
    await page.selectOption('#f-state', '');
    await page.click('#load');
    await page.locator('#list-summary', { hasText: '3 of 3' }).waitFor({ timeout: WAIT });

    // The waiting instance: its active task is marked on its diagram.
    await page.click(`#instances tr[data-instance="${waiting}"] button`);
    await page.locator('.djs-element.flyt-active[data-element-id="Fill"]').waitFor({ timeout: WAIT });
    await page.screenshot({ path: join(shots, '3-operate-active-task.png') });
    await page.click('#back');

    // The failing instance: the incident on its element, with Retry.
    await page.locator(`#instances tr[data-instance="${failing}"] button`).click();
    await page.locator('.djs-element.flyt-incident[data-element-id="Check"]').waitFor({ timeout: WAIT });
    await page.locator('.incident-overlay', { hasText: 'register unreachable' }).waitFor({ timeout: WAIT });
    await page.locator('.djs-element.flyt-taken[data-element-id="Fill"]').waitFor({ timeout: WAIT });
    await page.screenshot({ path: join(shots, '3-operate-incident.png'), fullPage: true });
    assert.deepEqual(await unlabelled(page), [], 'every control is labelled');
    await page.click('#incidents button.retry');
    await page.locator('#status', { hasText: 'Retried' }).waitFor({ timeout: WAIT });
    await page.locator('#incidents', { hasText: 'None.' }).waitFor({ timeout: WAIT });
    // The worker now gets the job again and completes it: the instance moves on.
    const again = await until('the retried job', WAIT, async () => (await activate()).json.jobs.find((j) => j.instanceId === failing));
    const done = await http('POST', `${base}/jobs/${again.key}/complete`, orgToken, {});
    assert.equal(done.status, 200, done.text);
    await page.click('#reload');
    await page.locator('.djs-element.flyt-active[data-element-id="Review"]').waitFor({ timeout: WAIT });
    assert.equal(await page.locator('.djs-element.flyt-incident').count(), 0);
    await page.screenshot({ path: join(shots, '3-operate-retried.png'), fullPage: true });

    // Paging through the API's continuation token: 12 instances, 10 to a page.
    for (let i = 0; i < 9; i++) await create('more ' + i);
    await page.click('#back');
    await page.selectOption('#f-limit', '10');
    await page.click('#load');
    await page.locator('#list-summary', { hasText: '10 of 10 instance(s) on this page match the filters; there are more pages.' }).waitFor({ timeout: WAIT });
    await page.click('#next-page');
    await page.locator('#list-summary', { hasText: '2 of 2 instance(s) on this page match the filters.' }).waitFor({ timeout: WAIT });
    assert.ok(await page.locator('#next-page').isDisabled());
    await page.click('#first-page');
    await page.locator('#list-summary', { hasText: '10 of 10' }).waitFor({ timeout: WAIT });
    assert.deepEqual(problems, []);
    await page.close();
  });

  // 4 -----------------------------------------------------------------------------------------
  await scenario('4 markup in a task name and a data value stays text', async () => {
    const problems = [];
    const page = await browserContext.newPage();
    watch(page, problems);
    await page.goto(urls.operate);
    // A pasted organisation token (from `flyt token org`).
    await page.fill('#login-token', orgTokenForOperate);
    await page.click('#login-use');
    await page.locator('#signed-in', { hasText: 'Signed in with a pasted token' }).waitFor({ timeout: WAIT });
    await page.locator('#app option[value="ttd/ui-jobs"]').waitFor({ state: 'attached', timeout: WAIT });
    await page.selectOption('#app', 'ttd/ui-jobs');
    await page.locator(`#instances tr[data-instance="${failing}"] button`).click();
    await page.locator('#data pre[data-type="form"]', { hasText: 'onerror' }).waitFor({ timeout: WAIT });
    await page.locator('.djs-element.flyt-active[data-element-id="Review"]').waitFor({ timeout: WAIT });
    const facts = await page.locator('dd[data-fact="Active tasks"]').textContent();
    assert.ok(facts.includes(XSS), 'the task name is shown as text: ' + facts);
    const data = await page.locator('#data pre[data-type="form"]').textContent();
    assert.ok(data.includes(JSON.stringify(XSS).slice(1, -1)), 'the data value is shown as text: ' + data);
    await page.screenshot({ path: join(shots, '4-markup-operate.png'), fullPage: true });
    const ran = async (p) => p.evaluate(() => ({ xss: window.__flytXss, imgs: document.querySelectorAll('img[src="x"]').length }));
    assert.deepEqual(await ran(page), { xss: undefined, imgs: 0 });

    // In the designer: the deployed definition, the task's name on the canvas and in the form.
    const designer = await browserContext.newPage();
    watch(designer, problems);
    await designer.goto(urls.designer);
    await signInAsUser(designer, ['designer']);
    await designer.locator('#app option[value="ttd/ui-jobs"]').waitFor({ state: 'attached', timeout: WAIT });
    await designer.selectOption('#app', 'ttd/ui-jobs');
    await designer.click('#open');
    await designer.locator('#status', { hasText: 'Opened ttd/ui-jobs version 1' }).waitFor({ timeout: WAIT });
    await selectElement(designer, 'Review');
    assert.equal(await designer.inputValue('#prop-name'), XSS);
    const label = await designer.locator('.djs-element[data-element-id="Review"] text').textContent();
    assert.ok(label.replace(/\s/g, '').includes('onerror'), 'the canvas label is text');
    await designer.screenshot({ path: join(shots, '4-markup-designer.png') });
    assert.deepEqual(await ran(designer), { xss: undefined, imgs: 0 });
    assert.deepEqual(problems, []);
    await designer.close();
    await page.close();
  });

  // 5 -----------------------------------------------------------------------------------------
  await scenario('5 designer: build start → task → end with the keyboard only', async () => {
    const problems = [];
    const page = await browserContext.newPage();
    watch(page, problems);
    await page.goto(urls.designer);
    // No page.mouse and no click: focus (what Tab does) and keys only.
    const press = async (selector, key) => { await page.focus(selector); await page.keyboard.press(key); };
    const status = (text) => page.locator('#status', { hasText: text }).waitFor({ timeout: WAIT });
    const chooseType = async (typed, value) => {
      await page.focus('#append-type');
      await page.keyboard.type(typed);
      assert.equal(await page.inputValue('#append-type'), value, `typing "${typed}" picks ${value}`);
    };
    const selectedType = () => page.evaluate(() => {
      const s = window.flytDesigner.get('selection').get();
      return s.length === 1 ? s[0].type : null;
    });
    const count = (type) => page.evaluate((t) => window.flytDesigner.get('elementRegistry').filter((e) => e.type === t).length, type);

    await page.locator('#dev-login').waitFor({ state: 'visible', timeout: WAIT });
    await press('#login-get', 'Enter');
    await page.locator('#signed-in', { hasText: 'Signed in as user 01017012345' }).waitFor({ timeout: WAIT });
    await page.locator('#keys-help', { hasText: 'Ctrl+Z' }).waitFor({ timeout: WAIT });

    await press('#new-empty', 'Enter');
    await status('Opened an empty diagram');

    // A start event on its own (nothing is selected), then a task and an end event appended.
    await chooseType('Start', 'bpmn:StartEvent');
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement.id), 'append', 'Tab goes on to Append');
    await page.keyboard.press('Enter');
    await status('Added start event');
    assert.equal(await selectedType(), 'bpmn:StartEvent');

    await chooseType('Task', 'bpmn:Task');
    await press('#append', 'Enter');
    await status('Added task');
    assert.equal(await selectedType(), 'bpmn:Task');
    await page.focus('#prop-name');
    await page.keyboard.type('Check order');
    await page.keyboard.press('Tab');
    await page.locator('#element-pick option', { hasText: 'Check order — task' }).waitFor({ state: 'attached', timeout: WAIT });

    await chooseType('End', 'bpmn:EndEvent');
    await press('#append', 'Enter');
    await status('Added end event');
    assert.equal(await selectedType(), 'bpmn:EndEvent');

    // One too many: deleted on the diagram with its Delete key, back with Ctrl+Z there, picked
    // from the element list and deleted with the side panel's button; Undo and Redo buttons.
    await chooseType('User', 'bpmn:UserTask');
    await press('#append', 'Enter');
    await status('Added user task');
    assert.equal(await count('bpmn:UserTask'), 1);
    await press('#canvas svg', 'Delete');
    assert.equal(await count('bpmn:UserTask'), 0, 'Delete on the diagram deletes the selection');
    await page.keyboard.press('Control+z');
    assert.equal(await count('bpmn:UserTask'), 1, 'Ctrl+Z on the diagram undoes');
    await page.focus('#element-pick');
    await page.keyboard.type('user task');
    await page.locator('#prop-id').and(page.locator('[value^="Activity_"]')).waitFor({ timeout: WAIT });
    assert.equal(await selectedType(), 'bpmn:UserTask', 'the element list selects');
    await press('#delete-selected', 'Enter');
    await status('Deleted');
    assert.equal(await count('bpmn:UserTask'), 0);
    await press('#undo', 'Enter');
    assert.equal(await count('bpmn:UserTask'), 1, 'the Undo button undoes');
    await press('#redo', 'Enter');
    assert.equal(await count('bpmn:UserTask'), 0, 'the Redo button redoes');

    // What is saved: start → Check order → end, nothing else.
    const saved = await page.evaluate(async () => {
      const { xml } = await window.flytDesigner.saveXML({ format: true });
      const doc = new DOMParser().parseFromString(xml, 'application/xml');
      const ns = 'http://www.omg.org/spec/BPMN/20100524/MODEL';
      const process = doc.getElementsByTagNameNS(ns, 'process')[0];
      const nodes = [...process.children].filter((e) => e.localName !== 'sequenceFlow')
        .map((e) => ({ kind: e.localName, id: e.getAttribute('id'), name: e.getAttribute('name') }));
      const flows = [...process.getElementsByTagNameNS(ns, 'sequenceFlow')]
        .map((e) => [e.getAttribute('sourceRef'), e.getAttribute('targetRef')]);
      const shapes = doc.getElementsByTagNameNS('http://www.omg.org/spec/BPMN/20100524/DI', 'BPMNShape').length;
      return { nodes, flows, shapes };
    });
    assert.deepEqual(saved.nodes.map((n) => n.kind), ['startEvent', 'task', 'endEvent']);
    const [start, task, end] = saved.nodes.map((n) => n.id);
    assert.equal(saved.nodes[1].name, 'Check order');
    assert.deepEqual(saved.flows, [[start, task], [task, end]]);
    assert.equal(saved.shapes, 3, 'every element is drawn');
    // The server's validator accepts it (the empty diagram's no-start-event is gone).
    await page.locator('#problems-summary', { hasText: 'No problems' }).waitFor({ timeout: WAIT });
    await page.screenshot({ path: join(shots, '5-designer-keyboard.png'), fullPage: true });
    assert.deepEqual(await unlabelled(page), [], 'every control is labelled');
    assert.deepEqual(problems, []);
    await page.close();
  });

  // 6 -----------------------------------------------------------------------------------------
  await scenario('6 designer: a PDF task\'s pdfConfig in the form, edited and round-tripped', async () => {
    const problems = [];
    const page = await browserContext.newPage();
    watch(page, problems);
    await page.goto(urls.designer);
    await page.locator('.bjs-powered-by').waitFor({ state: 'visible', timeout: WAIT });
    // Shaped like app-lib-dotnet's ttd-service-tasks (../shared/conformance/altinn).
    const xml = `<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:altinn="http://altinn.no/process" id="d" targetNamespace="urn:t">
  <bpmn:process id="p" isExecutable="true">
    <bpmn:startEvent id="S"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:task id="Task_1" name="Fill"><bpmn:extensionElements><altinn:taskExtension><altinn:taskType>data</altinn:taskType></altinn:taskExtension></bpmn:extensionElements><bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing></bpmn:task>
    <bpmn:serviceTask id="Task_2" name="PDF"><bpmn:extensionElements><altinn:taskExtension><altinn:taskType>pdf</altinn:taskType><altinn:pdfConfig><altinn:tasksToIncludeInPdf><altinn:task>Task_1</altinn:task></altinn:tasksToIncludeInPdf></altinn:pdfConfig></altinn:taskExtension></bpmn:extensionElements><bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing></bpmn:serviceTask>
    <bpmn:endEvent id="E"><bpmn:incoming>f3</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="S" targetRef="Task_1"/>
    <bpmn:sequenceFlow id="f2" sourceRef="Task_1" targetRef="Task_2"/>
    <bpmn:sequenceFlow id="f3" sourceRef="Task_2" targetRef="E"/>
  </bpmn:process>
</bpmn:definitions>
`;
    await page.setInputFiles('#file', { name: 'pdf-task.bpmn', mimeType: 'application/xml', buffer: Buffer.from(xml) });
    await page.locator('#status', { hasText: 'Opened pdf-task.bpmn' }).waitFor({ timeout: WAIT });
    const save = () => page.evaluate(async () => (await window.flytDesigner.saveXML({ format: true })).xml);
    const pdfConfig = (text) => page.evaluate((t) => {
      const doc = new DOMParser().parseFromString(t, 'application/xml');
      const A = 'http://altinn.no/process';
      const task = [...doc.getElementsByTagNameNS('http://www.omg.org/spec/BPMN/20100524/MODEL', 'serviceTask')].find((e) => e.getAttribute('id') === 'Task_2');
      const config = task.getElementsByTagNameNS(A, 'pdfConfig')[0];
      const texts = (name) => [...config.getElementsByTagNameNS(A, name)].map((e) => e.textContent);
      return {
        taskType: task.getElementsByTagNameNS(A, 'taskType')[0].textContent,
        include: texts('task'), auto: texts('taskId'), filename: texts('filenameTextResourceKey'),
        children: [...config.children].map((e) => e.localName)
      };
    }, text);
    const before = await save();
    assert.deepEqual(await pdfConfig(before), { taskType: 'pdf', include: ['Task_1'], auto: [], filename: [], children: ['tasksToIncludeInPdf'] });

    await selectElement(page, 'Task_2');
    assert.equal(await page.inputValue('#prop-pdf-tasks'), 'Task_1');
    assert.equal(await page.inputValue('#prop-pdf-auto'), '');
    assert.equal(await page.inputValue('#prop-pdf-filename'), '');
    assert.equal(await save(), before, 'showing the form changes nothing');

    await page.fill('#prop-pdf-tasks', 'Task_1, Task_3');
    await page.press('#prop-pdf-tasks', 'Tab');
    await page.fill('#prop-pdf-filename', 'pdf.filename');
    await page.press('#prop-pdf-filename', 'Tab');
    await page.fill('#prop-pdf-auto', 'Task_1');
    await page.press('#prop-pdf-auto', 'Tab');
    assert.deepEqual(await pdfConfig(await save()), {
      taskType: 'pdf', include: ['Task_1', 'Task_3'], auto: ['Task_1'], filename: ['pdf.filename'],
      children: ['filenameTextResourceKey', 'autoPdfTaskIds', 'tasksToIncludeInPdf']
    });

    // Set back, the file is what it was.
    await page.fill('#prop-pdf-tasks', 'Task_1');
    await page.press('#prop-pdf-tasks', 'Tab');
    await page.fill('#prop-pdf-filename', '');
    await page.press('#prop-pdf-filename', 'Tab');
    await page.fill('#prop-pdf-auto', '');
    await page.press('#prop-pdf-auto', 'Tab');
    assert.equal(await save(), before, 'set back, the saved XML is unchanged');
    assert.deepEqual(await unlabelled(page), [], 'every control is labelled');
    await page.screenshot({ path: join(shots, '6-designer-pdf-config.png'), fullPage: true });
    assert.deepEqual(problems, []);
    await page.close();
  });

  // 7 -----------------------------------------------------------------------------------------
  await scenario('7 designer: a deadline timer on a task, edited in the form and checked by the server', async () => {
    const problems = [];
    const page = await browserContext.newPage();
    watch(page, problems);
    await page.goto(urls.designer);
    await page.locator('.bjs-powered-by').waitFor({ state: 'visible', timeout: WAIT });
    const xml = `<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:altinn="http://altinn.no/process" id="d" targetNamespace="urn:t">
  <bpmn:process id="p" isExecutable="true">
    <bpmn:startEvent id="S"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:task id="Handle" name="Handle"><bpmn:extensionElements><altinn:taskExtension><altinn:taskType>data</altinn:taskType></altinn:taskExtension></bpmn:extensionElements><bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing></bpmn:task>
    <bpmn:boundaryEvent id="Deadline" attachedToRef="Handle"><bpmn:outgoing>f3</bpmn:outgoing><bpmn:timerEventDefinition><bpmn:timeDuration>P14D</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:boundaryEvent>
    <bpmn:endEvent id="E"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
    <bpmn:endEvent id="Late"><bpmn:incoming>f3</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="S" targetRef="Handle"/>
    <bpmn:sequenceFlow id="f2" sourceRef="Handle" targetRef="E"/>
    <bpmn:sequenceFlow id="f3" sourceRef="Deadline" targetRef="Late"/>
  </bpmn:process>
</bpmn:definitions>
`;
    await page.setInputFiles('#file', { name: 'deadline.bpmn', mimeType: 'application/xml', buffer: Buffer.from(xml) });
    await page.locator('#status', { hasText: 'Opened deadline.bpmn' }).waitFor({ timeout: WAIT });
    // The server checks what is drawn for a signed-in designer.
    await signInAsUser(page, ['designer']);
    await page.locator('#app option[value="ttd/designed"]').waitFor({ state: 'attached', timeout: WAIT });
    await page.selectOption('#app', 'ttd/designed');
    await page.locator('#problems-summary', { hasText: 'No problems' }).waitFor({ timeout: WAIT });
    const save = () => page.evaluate(async () => (await window.flytDesigner.saveXML({ format: true })).xml);
    const timerOf = (text) => page.evaluate((t) => {
      const doc = new DOMParser().parseFromString(t, 'application/xml');
      const B = 'http://www.omg.org/spec/BPMN/20100524/MODEL';
      const b = [...doc.getElementsByTagNameNS(B, 'boundaryEvent')].find((e) => e.getAttribute('id') === 'Deadline');
      const def = b.getElementsByTagNameNS(B, 'timerEventDefinition')[0];
      return { cancel: b.getAttribute('cancelActivity'), value: [...def.children].map((c) => c.localName + '=' + c.textContent) };
    }, text);
    const before = await save();
    assert.deepEqual(await timerOf(before), { cancel: null, value: ['timeDuration=P14D'] });

    await selectElement(page, 'Deadline');
    assert.equal(await page.inputValue('#prop-timer-kind'), 'timeDuration');
    assert.equal(await page.inputValue('#prop-timer-value'), 'P14D');
    assert.equal(await page.isChecked('#prop-interrupting'), true);
    assert.equal(await save(), before, 'showing the form changes nothing');

    // A value the engine cannot read is a problem at once, with its line; a good one clears it.
    await page.fill('#prop-timer-value', 'two weeks');
    await page.press('#prop-timer-value', 'Tab');
    await page.locator('#problems', { hasText: 'invalid-timer' }).waitFor({ timeout: WAIT });
    await page.fill('#prop-timer-value', 'R3/P1D');
    await page.press('#prop-timer-value', 'Tab');
    await page.selectOption('#prop-timer-kind', 'timeCycle');
    await page.uncheck('#prop-interrupting');
    await page.locator('#problems-summary', { hasText: 'No problems' }).waitFor({ timeout: WAIT });
    assert.deepEqual(await timerOf(await save()), { cancel: 'false', value: ['timeCycle=R3/P1D'] });
    assert.deepEqual(await unlabelled(page), [], 'every control is labelled');
    await page.screenshot({ path: join(shots, '7-designer-timer.png'), fullPage: true });
    assert.deepEqual(problems, []);
    await page.close();
  });

  assert.deepEqual(offsite, [], 'the pages fetched nothing but the server');
}

// The token operate uses: the service owner ttd (reads all owners' instances, reads definitions
// through the policy's deploy, retries through its resume).
let orgTokenForOperate = '';
const overall = setTimeout(() => { console.log('FAIL: the browser tests took over 170 s'); process.exit(1); }, 170000);
try {
  await main();
} catch (e) {
  results.push(['setup', 'FAILED', 0]);
  console.log('FAIL setup: ' + (e.stack || e));
} finally {
  await cleanup();
  clearTimeout(overall);
}
const failedCount = results.filter((r) => r[1] !== 'passed').length;
console.log(`browser tests: ${results.length - failedCount} passed, ${failedCount} failed; screenshots in ${shots}`);
process.exit(failedCount ? 1 : 0);
