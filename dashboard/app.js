/*
 * OTA upgrade dashboard: subscribes over MQTT over WebSockets to the task
 * summaries and device status events that the mosquitto-ota plugin (or a
 * FastBee backend) publishes, and shows them in Chinese or English.
 *
 * Topics, with and without FastBee's leading "/":
 *   {p}{taskId}/ws/ota/summary  retained task summary (counts and state)
 *   {p}{taskId}/ws/ota/status   one device's status change, not retained
 *
 * Every payload value reaches the page through textContent, never as HTML.
 * The MQTT client is the `mqtt` npm package's browser bundle, which
 * index.html loads before this file as the global `mqtt`.
 */
(function () {
  'use strict';

  /* ================================================================== */
  /* Constants                                                          */
  /* ================================================================== */

  const TOPICS = [
    '+/ws/ota/summary',
    '/+/ws/ota/summary',
    '+/ws/ota/status',
    '/+/ws/ota/status',
  ];
  const TOPIC_PATTERN = /^\/?([1-9][0-9]{0,15})\/ws\/ota\/(status|summary)$/;

  const STORAGE_LANG = 'otaDashboard.lang';
  const STORAGE_URL = 'otaDashboard.url';
  const STORAGE_USERNAME = 'otaDashboard.username';

  const RECONNECT_MS = 5000;
  const CONNECT_TIMEOUT_MS = 10000;
  const RENDER_DELAY_MS = 50;
  // CONNACK codes that reject the login itself (MQTT 3.1.1 codes 1, 2, 4, 5
  // and their MQTT 5 counterparts), so retrying with the same settings fails.
  const REJECTED_CONNACK_CODES = [1, 2, 4, 5, 0x84, 0x85, 0x86, 0x87, 0x8c];
  // Caps that keep the page responsive on tasks with many devices.
  const MAX_DEVICE_ROWS_SHOWN = 500;
  const MAX_EVENTS_PER_TASK = 200;

  // FastBee's status codes, its English names and its UI's Chinese labels.
  const STATUS = {
    0: { name: 'AWAIT', zh: '等待升级' },
    1: { name: 'SEND', zh: '已发送' },
    2: { name: 'REPLY', zh: '升级中' },
    3: { name: 'SUCCESS', zh: '成功' },
    4: { name: 'FAILED', zh: '失败' },
    5: { name: 'STOP', zh: '停止' },
    404: { name: 'UNKNOWN', zh: '未知' },
  };
  const STATUS_CLASS = {
    0: 'st-await', 1: 'st-active', 2: 'st-active', 3: 'st-success',
    4: 'st-failed', 5: 'st-stopped', 404: 'st-unknown',
  };
  const COUNT_FIELDS = ['total', 'await', 'send', 'upgrading', 'success', 'failed', 'stopped'];

  /* ================================================================== */
  /* Translations                                                       */
  /* ================================================================== */

  const TEXT = {
    zh: {
      pageTitle: 'OTA 升级看板',
      langToggle: 'English',
      langToggleLabel: '切换到英文界面',
      connectionHeading: '连接',
      urlLabel: 'WebSocket 地址',
      usernameLabel: '用户名',
      passwordLabel: '密码',
      connect: '连接',
      disconnect: '断开',
      state_disconnected: '未连接',
      state_connecting: '正在连接…',
      state_connected: '已连接',
      state_reconnecting: '正在重连…',
      tasksHeading: '升级任务',
      colTaskId: '任务 ID',
      colName: '名称',
      colVersion: '版本',
      colState: '任务状态',
      colProgress: '进度',
      colSerial: '设备编号',
      colStatus: '升级状态',
      colMessage: '信息',
      colUpdated: '最后更新',
      tasksEmpty: '暂无任务。连接后，保留的任务汇总会立即显示在这里。',
      legendSuccess: '成功',
      legendFailed: '失败',
      legendStopped: '停止',
      legendActive: '进行中',
      legendAwait: '等待升级',
      task_running: '进行中',
      task_scheduled: '待开始',
      task_finished: '已完成',
      task_cancelled: '已取消',
      task_aborted: '已中止',
      task_expired: '已过期',
      taskNoSummary: '无汇总',
      taskUnknownState: '未知（{state}）',
      taskProgressText: '{done}/{total} 台已结束',
      taskProgressLabel: '已结束 {percent}%',
      detailNone: '选择一个任务以查看设备',
      detailTask: '任务 {id} 的设备',
      counts: '共 {total} 台 · 等待升级 {await} · 已发送 {send} · 升级中 {upgrading} · 成功 {success} · 失败 {failed} · 停止 {stopped}',
      countsUpdated: '汇总更新于 {time}',
      countsNone: '尚未收到该任务的汇总。',
      filterLabel: '按设备编号筛选',
      deviceCount: '显示 {shown} / {total} 台设备',
      deviceCountCapped: '显示前 {shown} 台，共 {total} 台设备。请用筛选缩小范围。',
      devicesEmpty: '暂无设备状态事件。',
      devicesNoMatch: '没有匹配的设备。',
      eventsHeading: '事件记录（最新在前）',
      eventsEmpty: '暂无事件。',
      liveOnlyNote: '状态事件不是保留消息，所以设备列表和事件记录只包含本页面连接之后收到的事件；任务汇总是保留消息，连接后立即显示。',
      statusUnknownCode: '未知（{code}）',
      error_invalidUrl: '无效的 WebSocket 地址“{url}”：应以 ws:// 或 wss:// 开头。',
      error_mqttMissing: '未能加载 MQTT 客户端 node_modules/mqtt/dist/mqtt.min.js。请在 dashboard 目录运行 npm ci，或用 serve.sh 启动页面。',
      error_connectFailed: '连接 {url} 失败：{reason}',
      error_refused: '{url} 拒绝了连接：{reason}。请检查用户名和密码后重新连接。',
      error_unreachable: '无法连接到 {url}：服务器没有响应或拒绝了 WebSocket 连接。{seconds} 秒后重试。',
      error_lost: '与 {url} 的连接已断开，{seconds} 秒后重试。',
      error_subscribeFailed: '订阅失败：{reason}',
      error_subscribeDenied: '代理拒绝了订阅 {topic}。',
      connack_1: '不支持的协议版本',
      connack_2: '客户端 ID 被拒绝',
      connack_3: '服务不可用',
      connack_4: '用户名或密码错误',
      connack_5: '未授权',
      invalidNotice: '已忽略无效消息 {count} 条。最近一条在 {topic}：{reason}',
      reason_topic: '主题中没有任务 ID',
      reason_json: '载荷不是 JSON 对象',
      reason_field: '字段 {field} 无效：{value}',
      reason_taskId: '载荷中的 taskId {payload} 与主题中的任务 {topic} 不一致',
      msg_alreadyAtTarget: '已是目标版本',
      msg_deviceFailure: '设备报告升级失败',
      msg_timedOut: '超时',
      msg_cancelled: '已取消',
      msg_aborted: '已中止',
      msg_expired: '已过期',
      msg_versionMismatch: '版本不符：应为 {expected}，实际为 {actual}',
    },
    en: {
      pageTitle: 'OTA upgrade dashboard',
      langToggle: '中文',
      langToggleLabel: 'Switch to the Chinese view',
      connectionHeading: 'Connection',
      urlLabel: 'WebSocket URL',
      usernameLabel: 'Username',
      passwordLabel: 'Password',
      connect: 'Connect',
      disconnect: 'Disconnect',
      state_disconnected: 'Disconnected',
      state_connecting: 'Connecting…',
      state_connected: 'Connected',
      state_reconnecting: 'Reconnecting…',
      tasksHeading: 'Upgrade tasks',
      colTaskId: 'Task ID',
      colName: 'Name',
      colVersion: 'Version',
      colState: 'State',
      colProgress: 'Progress',
      colSerial: 'Serial number',
      colStatus: 'Status',
      colMessage: 'Message',
      colUpdated: 'Last update',
      tasksEmpty: 'No tasks yet. Retained task summaries show up here as soon as the page connects.',
      legendSuccess: 'Succeeded',
      legendFailed: 'Failed',
      legendStopped: 'Stopped',
      legendActive: 'In progress',
      legendAwait: 'Waiting',
      task_running: 'Running',
      task_scheduled: 'Scheduled',
      task_finished: 'Finished',
      task_cancelled: 'Cancelled',
      task_aborted: 'Aborted',
      task_expired: 'Expired',
      taskNoSummary: 'No summary',
      taskUnknownState: 'Unknown ({state})',
      taskProgressText: '{done}/{total} done',
      taskProgressLabel: '{percent}% done',
      detailNone: 'Select a task to see its devices',
      detailTask: 'Devices of task {id}',
      counts: 'Total {total} · awaiting {await} · sent {send} · upgrading {upgrading} · succeeded {success} · failed {failed} · stopped {stopped}',
      countsUpdated: 'Summary updated {time}',
      countsNone: 'No summary received for this task yet.',
      filterLabel: 'Filter by serial number',
      deviceCount: 'Showing {shown} of {total} devices',
      deviceCountCapped: 'Showing the first {shown} of {total} devices. Filter to narrow the list.',
      devicesEmpty: 'No device status events yet.',
      devicesNoMatch: 'No matching devices.',
      eventsHeading: 'Events (newest first)',
      eventsEmpty: 'No events yet.',
      liveOnlyNote: 'Status events are not retained, so the device table and the event log hold only events received since this page connected. Task summaries are retained and show up as soon as the page connects.',
      statusUnknownCode: 'UNKNOWN ({code})',
      error_invalidUrl: 'Invalid WebSocket URL "{url}": it must start with ws:// or wss://.',
      error_mqttMissing: 'The MQTT client node_modules/mqtt/dist/mqtt.min.js did not load. Run npm ci in the dashboard folder, or start the page with serve.sh.',
      error_connectFailed: 'Connection to {url} failed: {reason}',
      error_refused: '{url} rejected the connection: {reason}. Check the username and password, then connect again.',
      error_unreachable: 'Cannot reach {url}: the server did not answer or rejected the WebSocket connection. Retrying in {seconds} s.',
      error_lost: 'Lost the connection to {url}. Retrying in {seconds} s.',
      error_subscribeFailed: 'Subscribe failed: {reason}',
      error_subscribeDenied: 'The broker rejected the subscription to {topic}.',
      connack_1: 'unacceptable protocol version',
      connack_2: 'client identifier rejected',
      connack_3: 'server unavailable',
      connack_4: 'bad username or password',
      connack_5: 'not authorized',
      invalidNotice: 'Invalid messages ignored: {count}. Latest on {topic}: {reason}',
      reason_topic: 'the topic has no task id',
      reason_json: 'the payload is not a JSON object',
      reason_field: 'invalid {field}: {value}',
      reason_taskId: 'taskId {payload} in the payload differs from task {topic} in the topic',
      msg_alreadyAtTarget: 'already at target version',
      msg_deviceFailure: 'device reported failure',
      msg_timedOut: 'timed out',
      msg_cancelled: 'cancelled',
      msg_aborted: 'aborted',
      msg_expired: 'expired',
      msg_versionMismatch: 'version mismatch: expected {expected}, got {actual}',
    },
  };

  // The plugin's fixed English messages, translated for the Chinese view.
  // Any other message (a device's own text) is shown as received.
  const KNOWN_MESSAGES = {
    'already at target version': 'msg_alreadyAtTarget',
    'device reported failure': 'msg_deviceFailure',
    'timed out': 'msg_timedOut',
    'cancelled': 'msg_cancelled',
    'aborted': 'msg_aborted',
    'expired': 'msg_expired',
  };
  const VERSION_MISMATCH = /^version mismatch: expected (.*), got (.*)$/;

  /* ================================================================== */
  /* Page state                                                         */
  /* ================================================================== */

  const state = {
    lang: 'en',
    // Connection: 'disconnected', 'connecting', 'connected' or 'reconnecting'.
    connection: 'disconnected',
    // Whether the subscriptions are in place, shown as body[data-subscribed]
    // for scripts that drive the page (tests) and for the inspector.
    subscribed: false,
    // The current error as a translation key and its parameters, or null.
    error: null,
    invalid: { count: 0, topic: '', reason: null },
    client: null,
    url: '',
    // Tasks by id (a string of digits), created by taskFor().
    tasks: new Map(),
    selectedTaskId: null,
    deviceFilter: '',
  };

  function taskFor(taskId) {
    let task = state.tasks.get(taskId);
    if (!task) {
      task = {
        id: taskId,
        summary: null,
        devices: new Map(),
        events: [],
      };
      state.tasks.set(taskId, task);
    }
    return task;
  }

  /* ================================================================== */
  /* Language                                                           */
  /* ================================================================== */

  // Replaces each {name} in the text of KEY with PARAMS.name.
  function t(key, params) {
    const table = TEXT[state.lang];
    const text = key in table ? table[key] : TEXT.en[key];
    if (text === undefined) {
      return key;
    }
    return text.replace(/\{(\w+)\}/g, (whole, name) =>
      params && name in params ? String(params[name]) : whole);
  }

  function normalizeLang(value) {
    if (typeof value !== 'string') {
      return null;
    }
    const lower = value.toLowerCase();
    if (lower.startsWith('zh')) {
      return 'zh';
    }
    if (lower.startsWith('en')) {
      return 'en';
    }
    return null;
  }

  // Chooses the language: ?lang=, then the stored choice, then the browser's
  // preferred languages, then English.
  function initialLang(params) {
    const fromQuery = normalizeLang(params.get('lang'));
    if (fromQuery) {
      return fromQuery;
    }
    const stored = normalizeLang(readStorage(STORAGE_LANG));
    if (stored) {
      return stored;
    }
    const preferred = navigator.languages && navigator.languages.length
      ? navigator.languages : [navigator.language];
    for (const candidate of preferred) {
      const lang = normalizeLang(candidate);
      if (lang) {
        return lang;
      }
    }
    return 'en';
  }

  // Switches the language, stores the choice and drops ?lang= from the
  // address, so that a reload keeps the language picked last.
  function setLang(lang) {
    state.lang = lang;
    writeStorage(STORAGE_LANG, lang);
    updateQuery('lang', null);
    applyStaticText();
    render();
  }

  function applyStaticText() {
    document.documentElement.lang = state.lang === 'zh' ? 'zh-CN' : 'en';
    document.title = t('pageTitle');
    for (const element of document.querySelectorAll('[data-i18n]')) {
      element.textContent = t(element.dataset.i18n);
    }
    const toggle = byId('lang-toggle');
    toggle.textContent = t('langToggle');
    toggle.setAttribute('aria-label', t('langToggleLabel'));
    toggle.lang = state.lang === 'zh' ? 'en' : 'zh-CN';
  }

  /* ================================================================== */
  /* Browser storage and address                                        */
  /* ================================================================== */

  // localStorage throws in some private browsing modes, and the page then
  // works without storing anything.
  function readStorage(key) {
    try {
      return window.localStorage.getItem(key);
    } catch (error) {
      return null;
    }
  }

  function writeStorage(key, value) {
    try {
      window.localStorage.setItem(key, value);
    } catch (error) {
      // Nothing to do: the choice lasts until the page is closed.
    }
  }

  // Sets or, with VALUE null, removes one query parameter in place.
  function updateQuery(name, value) {
    const address = new URL(window.location.href);
    if (value === null) {
      address.searchParams.delete(name);
    } else {
      address.searchParams.set(name, value);
    }
    window.history.replaceState(null, '', address);
  }

  // ws://<page host>:9001, or wss:// when the page itself came over HTTPS.
  function defaultUrl() {
    const scheme = window.location.protocol === 'https:' ? 'wss' : 'ws';
    const host = window.location.hostname || '127.0.0.1';
    return scheme + '://' + host + ':9001';
  }

  /* ================================================================== */
  /* Message parsing                                                    */
  /* ================================================================== */

  // A rejected message: KEY and PARAMS describe the reason.
  class InvalidMessage extends Error {
    constructor(key, params) {
      super(key);
      this.key = key;
      this.params = params || {};
    }
  }

  function invalidField(field, value) {
    let valueText;
    try {
      valueText = JSON.stringify(value);
    } catch (error) {
      valueText = String(value);
    }
    return new InvalidMessage('reason_field', { field: field, value: valueText });
  }

  function isCount(value) {
    return Number.isInteger(value) && value >= 0;
  }

  function parseObject(payload) {
    let value;
    try {
      value = JSON.parse(payload);
    } catch (error) {
      throw new InvalidMessage('reason_json');
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      throw new InvalidMessage('reason_json');
    }
    return value;
  }

  // Checks that a payload's taskId, if any, is the task named in the topic.
  // FastBee also writes taskId as a string of digits.
  function checkTaskId(object, taskId) {
    if (!('taskId' in object)) {
      return;
    }
    if (String(object.taskId) !== taskId) {
      throw new InvalidMessage('reason_taskId', { payload: object.taskId, topic: taskId });
    }
  }

  // Returns the summary fields the page shows, with null for missing counts.
  function parseSummary(payload, taskId) {
    const object = parseObject(payload);
    checkTaskId(object, taskId);

    const summary = { name: null, version: null, state: null, updatedAt: null };
    if ('name' in object && object.name !== null) {
      if (typeof object.name !== 'string') {
        throw invalidField('name', object.name);
      }
      summary.name = object.name;
    }
    if ('version' in object && object.version !== null) {
      if (typeof object.version !== 'string' && typeof object.version !== 'number') {
        throw invalidField('version', object.version);
      }
      summary.version = String(object.version);
    }
    for (const field of COUNT_FIELDS) {
      if (field in object && !isCount(object[field])) {
        throw invalidField(field, object[field]);
      }
      summary[field] = field in object ? object[field] : null;
    }
    if ('state' in object) {
      if (typeof object.state !== 'string') {
        throw invalidField('state', object.state);
      }
      summary.state = object.state;
    }
    if ('updatedAt' in object) {
      if (!isCount(object.updatedAt)) {
        throw invalidField('updatedAt', object.updatedAt);
      }
      summary.updatedAt = object.updatedAt;
    }
    return summary;
  }

  // Accepts a whole number, or a string of digits as FastBee also sends.
  function parseInteger(value) {
    if (typeof value === 'number' && Number.isInteger(value)) {
      return value;
    }
    if (typeof value === 'string' && /^-?[0-9]{1,15}$/.test(value)) {
      return Number(value);
    }
    return null;
  }

  // Returns the status event as the page stores it. A missing timestamp
  // becomes the time of arrival.
  function parseStatus(payload, taskId) {
    const object = parseObject(payload);
    checkTaskId(object, taskId);

    if (typeof object.serialNumber !== 'string' || object.serialNumber === '') {
      throw invalidField('serialNumber', object.serialNumber);
    }
    const status = parseInteger(object.status);
    if (status === null) {
      throw invalidField('status', object.status);
    }
    let timestamp = Date.now();
    if ('timestamp' in object) {
      if (!isCount(object.timestamp)) {
        throw invalidField('timestamp', object.timestamp);
      }
      timestamp = object.timestamp;
    }
    let progress = null;
    if ('progress' in object && object.progress !== null) {
      progress = parseInteger(object.progress);
      if (progress === null || progress < 0 || progress > 100) {
        throw invalidField('progress', object.progress);
      }
    }
    let message = null;
    if ('message' in object && object.message !== null) {
      if (typeof object.message !== 'string') {
        throw invalidField('message', object.message);
      }
      message = object.message;
    }
    return {
      serialNumber: object.serialNumber,
      status: status,
      timestamp: timestamp,
      progress: progress,
      message: message,
    };
  }

  /* ================================================================== */
  /* Applying messages                                                  */
  /* ================================================================== */

  function handleMessage(topic, payloadBytes) {
    const payload = new TextDecoder().decode(payloadBytes);
    try {
      const match = TOPIC_PATTERN.exec(topic);
      if (!match) {
        throw new InvalidMessage('reason_topic');
      }
      const taskId = match[1];
      if (match[2] === 'summary') {
        applySummary(taskId, payload);
      } else {
        applyStatus(taskId, parseStatus(payload, taskId));
      }
    } catch (error) {
      if (!(error instanceof InvalidMessage)) {
        throw error;
      }
      recordInvalid(topic, error);
    }
    scheduleRender();
  }

  // An empty retained summary clears a finished task. The page drops the
  // task unless it still has device events to show.
  function applySummary(taskId, payload) {
    if (payload === '') {
      const task = state.tasks.get(taskId);
      if (task) {
        task.summary = null;
        if (task.devices.size === 0) {
          state.tasks.delete(taskId);
        }
      }
      return;
    }
    const summary = parseSummary(payload, taskId);
    taskFor(taskId).summary = summary;
    if (state.selectedTaskId === null) {
      selectTask(taskId);
    }
  }

  // Updates the device's row unless the event is older than the one shown,
  // and logs every event.
  function applyStatus(taskId, event) {
    const task = taskFor(taskId);
    const row = task.devices.get(event.serialNumber);
    if (!row || event.timestamp >= row.timestamp) {
      task.devices.set(event.serialNumber, event);
    }
    task.events.unshift(event);
    if (task.events.length > MAX_EVENTS_PER_TASK) {
      task.events.length = MAX_EVENTS_PER_TASK;
    }
    if (state.selectedTaskId === null) {
      selectTask(taskId);
    }
  }

  function recordInvalid(topic, error) {
    state.invalid.count += 1;
    state.invalid.topic = topic;
    state.invalid.reason = { key: error.key, params: error.params };
  }

  function selectTask(taskId) {
    state.selectedTaskId = taskId;
    updateQuery('task', taskId);
    scheduleRender();
  }

  /* ================================================================== */
  /* MQTT connection                                                    */
  /* ================================================================== */

  function setConnection(connection) {
    state.connection = connection;
    scheduleRender();
  }

  function setError(key, params) {
    state.error = key ? { key: key, params: params || {} } : null;
    scheduleRender();
  }

  function validUrl(text) {
    try {
      const address = new URL(text);
      return address.protocol === 'ws:' || address.protocol === 'wss:';
    } catch (error) {
      return false;
    }
  }

  function randomClientId() {
    const bytes = new Uint8Array(6);
    window.crypto.getRandomValues(bytes);
    return 'ota-dashboard-' + Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
  }

  // Opens a new connection, ending the previous one. Data of a previous
  // broker is dropped when the URL changes.
  function connect(url, username, password) {
    disconnect();
    if (typeof window.mqtt === 'undefined' || typeof window.mqtt.connect !== 'function') {
      setError('error_mqttMissing');
      return;
    }
    if (!validUrl(url)) {
      setError('error_invalidUrl', { url: url });
      return;
    }
    if (url !== state.url) {
      state.tasks.clear();
      state.selectedTaskId = null;
      state.invalid = { count: 0, topic: '', reason: null };
    }
    state.url = url;
    setError(null);
    setConnection('connecting');

    const client = window.mqtt.connect(url, {
      clientId: randomClientId(),
      username: username || undefined,
      password: password || undefined,
      protocolVersion: 4,
      clean: true,
      reconnectPeriod: RECONNECT_MS,
      connectTimeout: CONNECT_TIMEOUT_MS,
      resubscribe: false,
    });
    state.client = client;
    attachClientEvents(client, url);
  }

  function attachClientEvents(client, url) {
    const seconds = RECONNECT_MS / 1000;

    client.on('connect', () => {
      setError(null);
      setConnection('connected');
      subscribe(client);
    });
    client.on('message', (topic, payload) => handleMessage(topic, payload));
    client.on('reconnect', () => setConnection('reconnecting'));
    client.on('close', () => {
      if (state.client !== client) {
        return;
      }
      setSubscribed(false);
      if (state.connection === 'connected') {
        setError('error_lost', { url: url, seconds: seconds });
      } else if (!state.error || state.error.key === 'error_lost') {
        setError('error_unreachable', { url: url, seconds: seconds });
      }
      setConnection('reconnecting');
    });
    client.on('error', (error) => {
      if (state.client !== client) {
        return;
      }
      handleClientError(client, url, error);
    });
  }

  // A rejected CONNECT (bad credentials, not authorized) ends the client
  // instead of retrying with the same credentials every few seconds.
  function handleClientError(client, url, error) {
    const code = typeof error.code === 'number' ? error.code : null;
    if (code !== null && REJECTED_CONNACK_CODES.includes(code)) {
      const reasonKey = 'connack_' + code;
      const reason = reasonKey in TEXT.en ? t(reasonKey) : error.message;
      state.client = null;
      client.end(true);
      setError('error_refused', { url: url, reason: reason });
      setConnection('disconnected');
      return;
    }
    setError('error_connectFailed', { url: url, reason: error.message || String(error) });
  }

  function subscribe(client) {
    client.subscribe(TOPICS, { qos: 0 }, (error, granted) => {
      if (error) {
        setError('error_subscribeFailed', { reason: error.message });
        return;
      }
      const denied = (granted || []).filter((grant) => grant.qos === 128);
      if (denied.length) {
        setError('error_subscribeDenied', { topic: denied.map((grant) => grant.topic).join(', ') });
      }
      setSubscribed(denied.length < TOPICS.length);
    });
  }

  function setSubscribed(subscribed) {
    state.subscribed = subscribed;
    scheduleRender();
  }

  function disconnect() {
    const client = state.client;
    state.client = null;
    if (client) {
      client.end(true);
    }
    setSubscribed(false);
    setConnection('disconnected');
  }

  /* ================================================================== */
  /* Rendering                                                          */
  /* ================================================================== */

  let renderTimer = null;

  // Coalesces bursts of messages into one redraw every RENDER_DELAY_MS.
  function scheduleRender() {
    if (renderTimer === null) {
      renderTimer = window.setTimeout(() => {
        renderTimer = null;
        render();
      }, RENDER_DELAY_MS);
    }
  }

  function render() {
    renderConnection();
    renderTasks();
    renderDetail();
  }

  function byId(id) {
    return document.getElementById(id);
  }

  function element(tag, className, text) {
    const node = document.createElement(tag);
    if (className) {
      node.className = className;
    }
    if (text !== undefined && text !== null) {
      node.textContent = text;
    }
    return node;
  }

  function pad(number, width) {
    return String(number).padStart(width || 2, '0');
  }

  // Local time as YYYY-MM-DD HH:MM:SS, the same in both languages.
  function formatTime(ms) {
    const d = new Date(ms);
    return d.getFullYear() + '-' + pad(d.getMonth() + 1) + '-' + pad(d.getDate()) + ' ' +
      pad(d.getHours()) + ':' + pad(d.getMinutes()) + ':' + pad(d.getSeconds());
  }

  function formatClock(ms) {
    const d = new Date(ms);
    return pad(d.getHours()) + ':' + pad(d.getMinutes()) + ':' + pad(d.getSeconds()) +
      '.' + pad(d.getMilliseconds(), 3);
  }

  function statusLabel(code) {
    const known = STATUS[code];
    if (!known) {
      return t('statusUnknownCode', { code: code });
    }
    return state.lang === 'zh' ? known.zh : known.name;
  }

  function statusClass(code) {
    return STATUS_CLASS[code] || 'st-unknown';
  }

  // Translates the plugin's fixed messages and returns other text unchanged.
  function messageText(message) {
    if (message === null) {
      return '';
    }
    if (message in KNOWN_MESSAGES) {
      return t(KNOWN_MESSAGES[message]);
    }
    const mismatch = VERSION_MISMATCH.exec(message);
    if (mismatch) {
      return t('msg_versionMismatch', { expected: mismatch[1], actual: mismatch[2] });
    }
    return message;
  }

  function renderConnection() {
    document.body.dataset.subscribed = state.subscribed ? 'true' : 'false';
    const badge = byId('connection-state');
    badge.dataset.state = state.connection;
    badge.textContent = t('state_' + state.connection);

    const error = byId('connection-error');
    error.hidden = !state.error;
    error.textContent = state.error ? t(state.error.key, state.error.params) : '';

    const notice = byId('invalid-notice');
    notice.hidden = state.invalid.count === 0;
    if (state.invalid.reason) {
      notice.textContent = t('invalidNotice', {
        count: state.invalid.count,
        topic: state.invalid.topic,
        reason: t(state.invalid.reason.key, state.invalid.reason.params),
      });
    }

    byId('disconnect').disabled = state.connection === 'disconnected';
  }

  function sortedTasks() {
    return Array.from(state.tasks.values()).sort((a, b) => Number(b.id) - Number(a.id));
  }

  function taskStateText(summary) {
    if (!summary) {
      return t('taskNoSummary');
    }
    if (summary.state === null) {
      return '';
    }
    const key = 'task_' + summary.state;
    return key in TEXT.en ? t(key) : t('taskUnknownState', { state: summary.state });
  }

  function renderTasks() {
    const body = byId('task-rows');
    const tasks = sortedTasks();
    const rows = tasks.map(renderTaskRow);
    body.replaceChildren(...rows);
    byId('tasks-empty').hidden = tasks.length > 0;
  }

  function renderTaskRow(task) {
    const summary = task.summary;
    const row = element('tr', task.id === state.selectedTaskId ? 'selected' : '');
    row.dataset.taskId = task.id;
    row.tabIndex = 0;
    row.setAttribute('aria-selected', task.id === state.selectedTaskId ? 'true' : 'false');
    row.addEventListener('click', () => selectTask(task.id));
    row.addEventListener('keydown', (event) => {
      if (event.key === 'Enter' || event.key === ' ') {
        event.preventDefault();
        selectTask(task.id);
      }
    });

    const stateText = taskStateText(summary);
    const stateClass = summary && summary.state ? 'state state-' + summary.state : 'state';
    row.append(
      element('td', 'num', task.id),
      element('td', 'name', summary && summary.name ? summary.name : '—'),
      element('td', 'num', summary && summary.version !== null ? summary.version : '—'),
      cellWith(element('span', stateClass, stateText)),
      cellWith(renderTaskProgress(summary)),
    );
    return row;
  }

  function cellWith(child) {
    const cell = element('td');
    cell.append(child);
    return cell;
  }

  // A stacked bar of succeeded, failed, stopped and in-progress devices over
  // the total; the rest of the bar is the devices still waiting.
  function renderTaskProgress(summary) {
    const wrapper = element('div', 'task-progress');
    if (!summary || !summary.total) {
      wrapper.append(element('span', 'muted', '—'));
      return wrapper;
    }
    const total = summary.total;
    const active = (summary.send || 0) + (summary.upgrading || 0);
    const done = (summary.success || 0) + (summary.failed || 0) + (summary.stopped || 0);
    const percent = Math.round(Math.min(done, total) * 100 / total);

    const bar = element('div', 'bar stacked');
    bar.setAttribute('role', 'progressbar');
    bar.setAttribute('aria-valuemin', '0');
    bar.setAttribute('aria-valuemax', '100');
    bar.setAttribute('aria-valuenow', String(percent));
    bar.setAttribute('aria-label', t('taskProgressLabel', { percent: percent }));
    bar.title = t('counts', countParams(summary));
    const segments = [
      ['seg-success', summary.success || 0],
      ['seg-failed', summary.failed || 0],
      ['seg-stopped', summary.stopped || 0],
      ['seg-active', active],
    ];
    for (const [className, count] of segments) {
      if (count > 0) {
        const segment = element('span', 'segment ' + className);
        segment.style.width = (Math.min(count, total) * 100 / total) + '%';
        bar.append(segment);
      }
    }
    wrapper.append(bar, element('span', 'bar-text', t('taskProgressText', { done: done, total: total })));
    return wrapper;
  }

  function countParams(summary) {
    const params = {};
    for (const field of COUNT_FIELDS) {
      params[field] = summary[field] === null ? '—' : summary[field];
    }
    return params;
  }

  function renderDetail() {
    const task = state.selectedTaskId === null ? null : state.tasks.get(state.selectedTaskId);
    byId('detail-heading').textContent = task ? t('detailTask', { id: task.id }) : t('detailNone');
    renderCounts(task);
    renderDevices(task);
    renderEvents(task);
  }

  function renderCounts(task) {
    const counts = byId('task-counts');
    if (!task) {
      counts.textContent = '';
      return;
    }
    if (!task.summary) {
      counts.textContent = t('countsNone');
      return;
    }
    let text = t('counts', countParams(task.summary));
    if (task.summary.updatedAt !== null) {
      text += ' · ' + t('countsUpdated', { time: formatTime(task.summary.updatedAt) });
    }
    counts.textContent = text;
  }

  function filteredDevices(task) {
    const filter = state.deviceFilter.trim().toLowerCase();
    const devices = Array.from(task.devices.values());
    const matching = filter
      ? devices.filter((device) => device.serialNumber.toLowerCase().includes(filter))
      : devices;
    return matching.sort(compareSerials);
  }

  // Orders by code unit, so that the order is the same in every locale.
  function compareSerials(a, b) {
    if (a.serialNumber < b.serialNumber) {
      return -1;
    }
    if (a.serialNumber > b.serialNumber) {
      return 1;
    }
    return 0;
  }

  function renderDevices(task) {
    const body = byId('device-rows');
    const empty = byId('devices-empty');
    const count = byId('device-count');
    if (!task) {
      body.replaceChildren();
      empty.hidden = true;
      count.textContent = '';
      return;
    }
    const matching = filteredDevices(task);
    const visibleRows = matching.slice(0, MAX_DEVICE_ROWS_SHOWN);
    body.replaceChildren(...visibleRows.map(renderDeviceRow));

    empty.hidden = visibleRows.length > 0;
    empty.textContent = task.devices.size === 0 ? t('devicesEmpty') : t('devicesNoMatch');
    const countKey = matching.length > visibleRows.length ? 'deviceCountCapped' : 'deviceCount';
    count.textContent = task.devices.size === 0
      ? '' : t(countKey, { shown: visibleRows.length, total: matching.length });
  }

  function renderDeviceRow(device) {
    const row = element('tr');
    row.dataset.serial = device.serialNumber;
    row.dataset.status = String(device.status);

    const status = element('span', 'status ' + statusClass(device.status), statusLabel(device.status));
    const message = element('td', 'message', messageText(device.message));
    if (device.message !== null) {
      message.title = device.message;
    }
    const updated = element('td', 'time', formatTime(device.timestamp));
    updated.title = String(device.timestamp);

    row.append(
      element('td', 'serial', device.serialNumber),
      cellWith(status),
      cellWith(renderDeviceProgress(device)),
      message,
      updated,
    );
    return row;
  }

  // Only status 2 (REPLY) carries a progress value worth a bar.
  function renderDeviceProgress(device) {
    const wrapper = element('div', 'device-progress');
    if (device.status !== 2 || device.progress === null) {
      return wrapper;
    }
    const bar = element('div', 'bar');
    bar.setAttribute('role', 'progressbar');
    bar.setAttribute('aria-valuemin', '0');
    bar.setAttribute('aria-valuemax', '100');
    bar.setAttribute('aria-valuenow', String(device.progress));
    const fill = element('span', 'segment seg-active');
    fill.style.width = device.progress + '%';
    bar.append(fill);
    wrapper.append(bar, element('span', 'bar-text', device.progress + '%'));
    return wrapper;
  }

  function renderEvents(task) {
    const log = byId('event-log');
    const events = task ? task.events : [];
    log.replaceChildren(...events.map(renderEvent));
    byId('events-empty').hidden = events.length > 0;
  }

  function renderEvent(event) {
    const item = element('li');
    item.append(
      element('time', 'time', formatClock(event.timestamp)),
      element('span', 'serial', event.serialNumber),
      element('span', 'status ' + statusClass(event.status), statusLabel(event.status)),
    );
    if (event.progress !== null && event.status === 2) {
      item.append(element('span', 'progress', event.progress + '%'));
    }
    if (event.message !== null) {
      item.append(element('span', 'message', messageText(event.message)));
    }
    return item;
  }

  /* ================================================================== */
  /* Start                                                              */
  /* ================================================================== */

  function readForm() {
    return {
      url: byId('url').value.trim(),
      username: byId('username').value.trim(),
      password: byId('password').value,
    };
  }

  function bindControls() {
    byId('lang-toggle').addEventListener('click', () =>
      setLang(state.lang === 'zh' ? 'en' : 'zh'));

    byId('connection-form').addEventListener('submit', (event) => {
      event.preventDefault();
      const form = readForm();
      writeStorage(STORAGE_URL, form.url);
      writeStorage(STORAGE_USERNAME, form.username);
      updateQuery('url', null);
      updateQuery('username', null);
      connect(form.url, form.username, form.password);
    });

    byId('disconnect').addEventListener('click', () => {
      disconnect();
      setError(null);
    });

    byId('device-filter').addEventListener('input', (event) => {
      state.deviceFilter = event.target.value;
      scheduleRender();
    });
  }

  // Settings come from the query (?url=, ?username=, ?lang=, ?task=), then
  // from what the form last submitted, then from defaults. The password is
  // never read from the address nor stored.
  function start() {
    const params = new URLSearchParams(window.location.search);
    state.lang = initialLang(params);
    applyStaticText();
    bindControls();

    const url = params.get('url') || readStorage(STORAGE_URL) || defaultUrl();
    const username = params.get('username') || readStorage(STORAGE_USERNAME) || '';
    byId('url').value = url;
    byId('username').value = username;
    const task = params.get('task');
    if (task && /^[1-9][0-9]*$/.test(task)) {
      state.selectedTaskId = task;
    }

    render();
    state.url = url;
    connect(url, username, '');
  }

  start();
}());
