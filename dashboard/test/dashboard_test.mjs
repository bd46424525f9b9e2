// End-to-end test of the dashboard as a user sees it: a real Mosquitto with
// an MQTT and a WebSockets listener on 127.0.0.1, the page served by
// serve.sh, and Debian's Chromium driven headless through playwright-core.
//
//   node dashboard/test/dashboard_test.mjs
//
// Environment, all optional:
//   MOSQUITTO        broker binary (default: mosquitto from PATH, else /usr/sbin/mosquitto)
//   CHROMIUM         browser binary (default /usr/bin/chromium)
//   OTA_PLUGIN       plugin for the plugin scenario (default: build/mosquitto_ota.so
//                    in the repository; the scenario is skipped when it is missing)
//   SCREENSHOT_DIR   folder for the screenshots (default: a new temporary folder)
//   DASHBOARD_KEEP=1 keep the temporary folder with broker configs and logs
//
// Prints one line per check and ends with "N passed, N failed[, N skipped]".
// Exits 1 when a check failed or the set-up broke. Everything it starts
// listens on 127.0.0.1 only and is stopped before it exits.

import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync, mkdirSync, chmodSync, chownSync, rmSync, readFileSync } from 'node:fs';
import { createServer, connect as connectTcp } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const DASHBOARD = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const REPO = resolve(DASHBOARD, '..');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const OTA_PLUGIN = process.env.OTA_PLUGIN || join(REPO, 'build', 'mosquitto_ota.so');
const WAIT_MS = 10000;
const TEST_DEADLINE_MS = 180000;
// Matches Chinese characters, to prove the English view has none.
const CJK = /[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]/;

const results = { passed: 0, failed: 0, skipped: 0 };
const children = [];
let tmp = null;

/* ==================================================================== */
/* Reporting                                                            */
/* ==================================================================== */

function check(name, condition, detail) {
  if (condition) {
    results.passed += 1;
    console.log(`ok   ${name}`);
  } else {
    results.failed += 1;
    console.log(`FAIL ${name}${detail === undefined ? '' : `\n     ${detail}`}`);
  }
}

function checkEqual(name, expected, actual) {
  check(name, expected === actual, `expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);
}

function checkIncludes(name, text, part) {
  check(name, typeof text === 'string' && text.includes(part),
    `expected text containing ${JSON.stringify(part)}, got ${JSON.stringify(text)}`);
}

function skip(name, reason) {
  results.skipped += 1;
  console.log(`skip ${name}: ${reason}`);
}

/* ==================================================================== */
/* Processes: broker, page server, publisher                            */
/* ==================================================================== */

function findMosquitto() {
  if (process.env.MOSQUITTO) {
    return process.env.MOSQUITTO;
  }
  const found = spawnSync('sh', ['-c', 'command -v mosquitto'], { encoding: 'utf8' });
  const path = found.stdout.trim();
  return path || '/usr/sbin/mosquitto';
}

function freePort() {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolvePort(port));
    });
  });
}

function portAccepts(port) {
  return new Promise((resolveOpen) => {
    const socket = connectTcp({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolveOpen(true);
    });
    socket.once('error', () => resolveOpen(false));
  });
}

function sleep(ms) {
  return new Promise((resolveSleep) => setTimeout(resolveSleep, ms));
}

async function waitForPorts(ports, child, logPath) {
  const deadline = Date.now() + WAIT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) {
      throw new Error(`mosquitto exited with ${child.exitCode}; log:\n${readFileSync(logPath, 'utf8')}`);
    }
    const open = await Promise.all(ports.map(portAccepts));
    if (open.every(Boolean)) {
      return;
    }
    await sleep(50);
  }
  throw new Error(`mosquitto did not listen on ports ${ports.join(', ')} within ${WAIT_MS} ms`);
}

function track(child) {
  children.push(child);
  return child;
}

// Starts Mosquitto with the config LINES in a folder of its own, and
// returns when every port in PORTS accepts connections.
async function startBroker(name, lines, ports) {
  const folder = join(tmp, name);
  mkdirSync(folder, { recursive: true });
  const confPath = join(folder, 'mosquitto.conf');
  const logPath = join(folder, 'broker.log');
  writeFileSync(confPath, lines.join('\n') + '\n');

  const log = [];
  const child = track(spawn(findMosquitto(), ['-c', confPath], { stdio: ['ignore', 'pipe', 'pipe'] }));
  for (const stream of [child.stdout, child.stderr]) {
    stream.on('data', (chunk) => {
      log.push(chunk.toString());
      writeFileSync(logPath, log.join(''));
    });
  }
  writeFileSync(logPath, '');
  await waitForPorts(ports, child, logPath);
  return { child, logPath };
}

// Starts serve.sh on a free port and returns the URL it prints.
function startServer() {
  return new Promise((resolveUrl, reject) => {
    const child = track(spawn('bash', [join(DASHBOARD, 'serve.sh'), '--port', '0'],
      { stdio: ['ignore', 'pipe', 'pipe'] }));
    let output = '';
    const timer = setTimeout(() => reject(new Error(`serve.sh printed no URL within ${WAIT_MS} ms:\n${output}`)), WAIT_MS);
    const onData = (chunk) => {
      output += chunk.toString();
      const match = /Dashboard: (http:\/\/127\.0\.0\.1:[0-9]+\/)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolveUrl(match[1]);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code) => reject(new Error(`serve.sh exited with ${code}:\n${output}`)));
  });
}

// Publishes one message with mosquitto_pub. An empty PAYLOAD with RETAIN
// clears a retained message.
function publish(port, topic, payload, options = {}) {
  const args = ['-h', '127.0.0.1', '-p', String(port), '-t', topic, '-q', '1'];
  if (options.retain) {
    args.push('-r');
  }
  if (options.clientId) {
    args.push('-i', options.clientId);
  }
  if (payload === '') {
    args.push('-n');
  } else {
    args.push('-m', typeof payload === 'string' ? payload : JSON.stringify(payload));
  }
  const result = spawnSync('mosquitto_pub', args, { encoding: 'utf8', timeout: WAIT_MS });
  if (result.status !== 0) {
    throw new Error(`mosquitto_pub to ${topic} failed (${result.status}): ${result.stderr}`);
  }
}

function stopChildren() {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
    }
  }
}

/* ==================================================================== */
/* Page helpers                                                         */
/* ==================================================================== */

// Waits for SELECTOR, records a check and returns whether it appeared.
async function waitForCheck(name, page, selector, state = 'visible') {
  try {
    await page.locator(selector).first().waitFor({ state, timeout: WAIT_MS });
    check(name, true);
    return true;
  } catch (error) {
    check(name, false, `${selector} not ${state} within ${WAIT_MS} ms`);
    return false;
  }
}

async function text(page, selector) {
  const locator = page.locator(selector).first();
  if (await locator.count() === 0) {
    return null;
  }
  return (await locator.innerText()).trim();
}

async function attribute(page, selector, name) {
  const locator = page.locator(selector).first();
  if (await locator.count() === 0) {
    return null;
  }
  return locator.getAttribute(name);
}

function pageUrl(base, params) {
  const address = new URL(base);
  for (const [name, value] of Object.entries(params)) {
    address.searchParams.set(name, value);
  }
  return address.toString();
}

// Collects console errors and uncaught exceptions of PAGE.
function watchErrors(page) {
  const errors = [];
  page.on('console', (message) => {
    if (message.type() === 'error') {
      errors.push(message.text());
    }
  });
  page.on('pageerror', (error) => errors.push(error.message));
  return errors;
}

/* ==================================================================== */
/* Scenarios                                                            */
/* ==================================================================== */

const TASK = 26;
const SERIAL = 'D1832O34Z5M1';

function summary(taskId, fields) {
  return {
    taskId, name: 'gateway firmware', version: 1.2, total: 4, await: 1, send: 0, upgrading: 1,
    success: 1, failed: 1, stopped: 0, state: 'running', updatedAt: 1724482231000, ...fields,
  };
}

// The main scenario: summaries and status events published by hand, both
// topic forms, both languages, the language switch and its memory.
async function scenarioLanguages(context, base, broker, screenshots) {
  const mqtt = broker.mqttPort;
  publish(mqtt, `/${TASK}/ws/ota/summary`, summary(TASK, {}), { retain: true });
  publish(mqtt, '27/ws/ota/summary', summary(27, { name: 'sensor firmware', version: '2.0.1', total: 2, await: 2, upgrading: 0, success: 0, failed: 0, state: 'scheduled' }), { retain: true });

  const page = await context.newPage();
  const errors = watchErrors(page);
  await page.goto(pageUrl(base, { url: `ws://127.0.0.1:${broker.wsPort}`, task: String(TASK) }));

  await waitForCheck('page subscribes after connect', page, 'body[data-subscribed="true"]', 'attached');
  checkEqual('connection badge says connected', 'connected', await attribute(page, '#connection-state', 'data-state'));
  checkEqual('browser locale selects Chinese', 'zh-CN', await page.evaluate(() => document.documentElement.lang));
  checkEqual('Chinese page title', 'OTA 升级看板', await page.title());
  checkEqual('Chinese badge text', '已连接', await text(page, '#connection-state'));

  await waitForCheck('retained summary lists task', page, `#task-rows tr[data-task-id="${TASK}"]`);
  const taskRow = `#task-rows tr[data-task-id="${TASK}"]`;
  checkIncludes('task row shows name', await text(page, taskRow), 'gateway firmware');
  checkEqual('task row shows version', '1.2', await text(page, `${taskRow} td:nth-child(3)`));
  checkEqual('task state in Chinese', '进行中', await text(page, `${taskRow} .state`));
  checkEqual('task bar counts finished devices', '50', await attribute(page, `${taskRow} [role="progressbar"]`, 'aria-valuenow'));
  checkEqual('task bar text in Chinese', '2/4 台已结束', await text(page, `${taskRow} .bar-text`));
  checkEqual('task bar has one segment per kind', 3, await page.locator(`${taskRow} .segment`).count());
  await waitForCheck('no-slash topic lists task', page, '#task-rows tr[data-task-id="27"]');
  checkEqual('scheduled state in Chinese', '待开始', await text(page, '#task-rows tr[data-task-id="27"] .state'));
  checkEqual('newest task listed first', '27', await attribute(page, '#task-rows tr', 'data-task-id'));

  const status = `/${TASK}/ws/ota/status`;
  publish(mqtt, status, { serialNumber: 'D2', status: 4, timestamp: 1724482230000, message: 'timed out' });
  publish(mqtt, `${TASK}/ws/ota/status`, { serialNumber: 'D3', status: 3, timestamp: 1724482230500 });
  publish(mqtt, status, { serialNumber: 'D4', status: 5, timestamp: 1724482230600, message: 'version mismatch: expected 1.2, got 1.1' });
  publish(mqtt, status, 'not json');
  publish(mqtt, status, { serialNumber: SERIAL, status: 0, timestamp: 1724482231000 });
  publish(mqtt, status, { serialNumber: SERIAL, status: 1, timestamp: 1724482231001 });
  publish(mqtt, status, { serialNumber: SERIAL, status: 2, timestamp: 1724482231404, progress: 50 });

  const device = `#device-rows tr[data-serial="${SERIAL}"]`;
  await waitForCheck('device row reaches status 2', page, `${device}[data-status="2"]`);
  checkEqual('device label 升级中', '升级中', await text(page, `${device} .status`));
  checkEqual('device progress text 50%', '50%', await text(page, `${device} .bar-text`));
  checkEqual('device progress bar value', '50', await attribute(page, `${device} [role="progressbar"]`, 'aria-valuenow'));
  checkEqual('failed device label 失败', '失败', await text(page, '#device-rows tr[data-serial="D2"] .status'));
  checkEqual('timed out message in Chinese', '超时', await text(page, '#device-rows tr[data-serial="D2"] .message'));
  checkEqual('no-slash status event applies', '成功', await text(page, '#device-rows tr[data-serial="D3"] .status'));
  checkEqual('version mismatch in Chinese', '版本不符：应为 1.2，实际为 1.1', await text(page, '#device-rows tr[data-serial="D4"] .message'));
  checkEqual('device rows sorted by serial', 'D1832O34Z5M1', await attribute(page, '#device-rows tr', 'data-serial'));
  checkEqual('event log keeps every event', 6, await page.locator('#event-log li').count());
  checkIncludes('newest event first', await text(page, '#event-log li:first-child'), '升级中');
  checkIncludes('newest event shows progress', await text(page, '#event-log li:first-child'), '50%');
  checkIncludes('oldest event last', await text(page, '#event-log li:last-child'), 'D2');
  checkIncludes('invalid payload reported', await text(page, '#invalid-notice'), '载荷不是 JSON 对象');
  checkIncludes('Chinese device count', await text(page, '#device-count'), '显示 4 / 4 台设备');

  await page.screenshot({ path: join(screenshots, 'dashboard-zh.png'), fullPage: true });

  await page.click('#lang-toggle');
  await waitForCheck('toggle switches to English', page, 'html[lang="en"]', 'attached');
  checkEqual('English device label REPLY', 'REPLY', await text(page, `${device} .status`));
  checkEqual('English progress text 50%', '50%', await text(page, `${device} .bar-text`));
  checkEqual('English failed label FAILED', 'FAILED', await text(page, '#device-rows tr[data-serial="D2"] .status'));
  checkEqual('English stop label STOP', 'STOP', await text(page, '#device-rows tr[data-serial="D4"] .status'));
  checkEqual('English message as sent', 'timed out', await text(page, '#device-rows tr[data-serial="D2"] .message'));
  checkEqual('English task state', 'Running', await text(page, `${taskRow} .state`));
  checkEqual('English page title', 'OTA upgrade dashboard', await page.title());
  checkEqual('toggle offers Chinese', '中文', await text(page, '#lang-toggle'));
  const englishText = await page.evaluate(() => {
    const toggle = document.getElementById('lang-toggle');
    toggle.hidden = true;
    const visible = document.body.innerText;
    toggle.hidden = false;
    return visible;
  });
  const cjk = CJK.exec(englishText);
  check('English view has no Chinese', cjk === null,
    cjk ? `found ${JSON.stringify(cjk[0])} near ${JSON.stringify(englishText.slice(Math.max(0, cjk.index - 40), cjk.index + 40))}` : undefined);

  await page.screenshot({ path: join(screenshots, 'dashboard-en.png'), fullPage: true });

  await page.click('#task-rows tr[data-task-id="27"]');
  await waitForCheck('selecting task shows its devices', page, '#detail-heading:has-text("Devices of task 27")');
  checkEqual('task without events says so', 'No device status events yet.', await text(page, '#devices-empty'));
  publish(mqtt, '27/ws/ota/summary', '', { retain: true });
  await waitForCheck('cleared summary removes task', page, '#task-rows tr[data-task-id="27"]', 'detached');

  await page.goto(pageUrl(base, { url: `ws://127.0.0.1:${broker.wsPort}` }));
  await waitForCheck('reload keeps English choice', page, 'html[lang="en"]', 'attached');
  await page.goto(pageUrl(base, { url: `ws://127.0.0.1:${broker.wsPort}`, lang: 'zh' }));
  await waitForCheck('lang query selects Chinese', page, 'html[lang="zh-CN"]', 'attached');
  await page.goto(pageUrl(base, { url: `ws://127.0.0.1:${broker.wsPort}`, lang: 'en' }));
  await waitForCheck('lang query selects English', page, 'html[lang="en"]', 'attached');
  checkEqual('URL from query fills form', `ws://127.0.0.1:${broker.wsPort}`, await page.inputValue('#url'));

  check('no console errors', errors.length === 0, errors.join('\n     '));
  await page.close();
}

// Connection failures must show on the page, in the page's language.
async function scenarioConnectionErrors(context, base, closedPort) {
  const page = await context.newPage();
  await page.goto(pageUrl(base, { url: `ws://127.0.0.1:${closedPort}`, lang: 'en' }));
  await waitForCheck('unreachable broker shows error', page, '#connection-error:not([hidden])');
  checkIncludes('error names the URL', await text(page, '#connection-error'), `ws://127.0.0.1:${closedPort}`);
  check('badge is not connected', (await attribute(page, '#connection-state', 'data-state')) !== 'connected');

  await page.goto(pageUrl(base, { url: '127.0.0.1:9001', lang: 'zh' }));
  await waitForCheck('invalid URL shows error', page, '#connection-error:not([hidden])');
  checkIncludes('invalid URL error in Chinese', await text(page, '#connection-error'), '无效的 WebSocket 地址');
  await page.close();
}

// A broker that stops while the page is connected: the page shows an
// error, and reconnects by itself when the broker is back on the same port.
async function scenarioConnectionLost(context, base) {
  const { lines, ports, wsPort } = await plainBrokerConfig();
  let broker = await startBroker('lost', lines, ports);
  const page = await context.newPage();
  await page.goto(pageUrl(base, { url: `ws://127.0.0.1:${wsPort}`, lang: 'en' }));
  await waitForCheck('page connects before loss', page, '#connection-state[data-state="connected"]', 'attached');

  broker.child.kill('SIGTERM');
  await waitForCheck('lost connection shows error', page, '#connection-error:not([hidden])');
  checkIncludes('error says connection lost', await text(page, '#connection-error'), 'Lost the connection');
  check('badge leaves connected state', (await attribute(page, '#connection-state', 'data-state')) !== 'connected');

  broker = await startBroker('lost', lines, ports);
  await waitForCheck('page reconnects by itself', page, 'body[data-subscribed="true"]', 'attached');
  check('error cleared after reconnect', await page.locator('#connection-error').isHidden());
  await page.close();
}

// A broker that requires a password: the refusal is shown and ends the
// retries, and the form's credentials then connect.
async function scenarioPassword(context, base, broker) {
  const page = await context.newPage();
  await page.goto(pageUrl(base, { url: `ws://127.0.0.1:${broker.wsPort}`, username: 'viewer', lang: 'en' }));
  await waitForCheck('missing password is refused', page, '#connection-error:not([hidden])');
  checkIncludes('refusal says not authorized', await text(page, '#connection-error'), 'rejected the connection');
  checkEqual('refused client stops retrying', 'disconnected', await attribute(page, '#connection-state', 'data-state'));
  checkEqual('username from query fills form', 'viewer', await page.inputValue('#username'));

  await page.fill('#password', 'secret');
  await page.click('#connect');
  await waitForCheck('form password connects', page, '#connection-state[data-state="connected"]', 'attached');
  check('error cleared after connect', await page.locator('#connection-error').isHidden());
  check('password not kept in storage', !(await page.evaluate(() => JSON.stringify(window.localStorage))).includes('secret'));
  await page.close();
}

// The real plugin derives the status events and the summary from a `set`
// and a device reply.
async function scenarioPlugin(context, base, broker) {
  const page = await context.newPage();
  await page.goto(pageUrl(base, { url: `ws://127.0.0.1:${broker.wsPort}`, lang: 'zh' }));
  await waitForCheck('plugin page subscribes', page, 'body[data-subscribed="true"]', 'attached');

  publish(broker.mqttPort, '/D9/http/upgrade/set', { taskId: 31, url: '/fw/1.2.bin', version: 1.2, status: 1 }, { clientId: 'fastbee-backend' });
  publish(broker.mqttPort, '/D9/http/upgrade/reply', { taskId: 31, progress: 50, version: '1.2', status: 2 }, { clientId: 'D9' });

  await waitForCheck('plugin summary lists task', page, '#task-rows tr[data-task-id="31"]');
  await page.click('#task-rows tr[data-task-id="31"]');
  const device = '#device-rows tr[data-serial="D9"]';
  await waitForCheck('plugin event reaches status 2', page, `${device}[data-status="2"]`);
  checkEqual('plugin device label 升级中', '升级中', await text(page, `${device} .status`));
  checkEqual('plugin device progress 50%', '50%', await text(page, `${device} .bar-text`));
  checkEqual('plugin task state running', '进行中', await text(page, '#task-rows tr[data-task-id="31"] .state'));
  checkEqual('plugin events 0, 1, 2 logged', 3, await page.locator('#event-log li').count());
  await page.close();
}

/* ==================================================================== */
/* Set-up                                                               */
/* ==================================================================== */

function isRoot() {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

// Mosquitto started as root drops to the user "mosquitto" before it reads
// password files and loads plugins, so that user needs access.
function grantBrokerUser(path) {
  if (!isRoot()) {
    return;
  }
  const user = spawnSync('id', ['-u', 'mosquitto'], { encoding: 'utf8' });
  const group = spawnSync('id', ['-g', 'mosquitto'], { encoding: 'utf8' });
  if (user.status === 0 && group.status === 0) {
    chownSync(path, Number(user.stdout), Number(group.stdout));
  }
}

// An anonymous broker with one MQTT and one WebSockets listener.
async function plainBrokerConfig() {
  const mqttPort = await freePort();
  const wsPort = await freePort();
  const lines = [
    'allow_anonymous true',
    'persistence false',
    'log_dest stderr',
    `listener ${mqttPort} 127.0.0.1`,
    `listener ${wsPort} 127.0.0.1`,
    'protocol websockets',
  ];
  return { lines, ports: [mqttPort, wsPort], mqttPort, wsPort };
}

async function startPlainBroker() {
  const { lines, ports, mqttPort, wsPort } = await plainBrokerConfig();
  await startBroker('plain', lines, ports);
  return { mqttPort, wsPort };
}

// Mosquitto 2.0.11 refuses to start with only WebSockets listeners ("Unable
// to start any listening sockets"), so each broker also gets an MQTT one.
async function startPasswordBroker() {
  const mqttPort = await freePort();
  const wsPort = await freePort();
  const folder = join(tmp, 'password');
  mkdirSync(folder, { recursive: true });
  const passwordFile = join(folder, 'passwords');
  writeFileSync(passwordFile, '');
  const created = spawnSync('mosquitto_passwd', ['-b', passwordFile, 'viewer', 'secret'], { encoding: 'utf8' });
  if (created.status !== 0) {
    throw new Error(`mosquitto_passwd failed: ${created.stderr}`);
  }
  grantBrokerUser(passwordFile);
  await startBroker('password', [
    'allow_anonymous false',
    `password_file ${passwordFile}`,
    'persistence false',
    'log_dest stderr',
    `listener ${mqttPort} 127.0.0.1`,
    `listener ${wsPort} 127.0.0.1`,
    'protocol websockets',
  ], [mqttPort, wsPort]);
  return { mqttPort, wsPort };
}

async function startPluginBroker() {
  const mqttPort = await freePort();
  const wsPort = await freePort();
  const dbFolder = join(tmp, 'plugin-db');
  mkdirSync(dbFolder, { recursive: true });
  grantBrokerUser(dbFolder);
  await startBroker('plugin', [
    'allow_anonymous true',
    'persistence false',
    'log_dest stderr',
    `plugin ${OTA_PLUGIN}`,
    `plugin_opt_db_path ${join(dbFolder, 'ota.db')}`,
    `listener ${mqttPort} 127.0.0.1`,
    `listener ${wsPort} 127.0.0.1`,
    'protocol websockets',
  ], [mqttPort, wsPort]);
  return { mqttPort, wsPort };
}

async function launchBrowser() {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} not found; install Debian's chromium (apt-get install -y chromium) or set CHROMIUM`);
  }
  const profile = join(tmp, 'chromium-profile');
  mkdirSync(profile);
  // Playwright passes the profile folder as --user-data-dir itself.
  return chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    locale: 'zh-CN',
    viewport: { width: 1360, height: 900 },
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
  });
}

async function main() {
  tmp = mkdtempSync(join(tmpdir(), 'ota-dashboard-test-'));
  // The broker's user must reach the password file and the plugin's database.
  chmodSync(tmp, 0o755);
  const screenshots = process.env.SCREENSHOT_DIR || mkdtempSync(join(tmpdir(), 'ota-dashboard-screenshots-'));
  mkdirSync(screenshots, { recursive: true });

  let context = null;
  try {
    const plain = await startPlainBroker();
    const password = await startPasswordBroker();
    const base = await startServer();
    context = await launchBrowser();

    await scenarioLanguages(context, base, plain, screenshots);
    await scenarioConnectionErrors(context, base, await freePort());
    await scenarioConnectionLost(context, base);
    await scenarioPassword(context, base, password);
    if (existsSync(OTA_PLUGIN)) {
      await scenarioPlugin(context, base, await startPluginBroker());
    } else {
      skip('plugin scenario', `${OTA_PLUGIN} not built`);
    }
    console.log(`screenshots: ${join(screenshots, 'dashboard-zh.png')} ${join(screenshots, 'dashboard-en.png')}`);
  } catch (error) {
    check('test set-up and run', false, error.stack || String(error));
  } finally {
    if (context) {
      await context.close().catch(() => {});
    }
    stopChildren();
    if (process.env.DASHBOARD_KEEP === '1') {
      console.log(`kept ${tmp}`);
    } else {
      rmSync(tmp, { recursive: true, force: true });
    }
  }
}

const deadline = setTimeout(() => {
  check('test finishes in time', false, `still running after ${TEST_DEADLINE_MS} ms`);
  stopChildren();
  console.log(`${results.passed} passed, ${results.failed} failed`);
  process.exit(1);
}, TEST_DEADLINE_MS);

await main();
clearTimeout(deadline);
const skipped = results.skipped ? `, ${results.skipped} skipped` : '';
console.log(`${results.passed} passed, ${results.failed} failed${skipped}`);
process.exit(results.failed > 0 ? 1 : 0);
