/* global document, window, location, Blob, createImageBitmap, performance, ResizeObserver, navigator */
// The replay page of a session recording (issue 6): plays its frames at their recorded times (play/pause, speed,
// seeking) next to its event track (a timeline with marks, a list; both jump to an event). Framework-free on
// purpose, like the live viewer; the full UI may restyle or replace it. Only script and style files: the product's
// CSP allows no inline script or style. Everything a portal page put into the recording (titles, URLs, targets) is
// shown with textContent, never parsed as HTML.
// API: docs/api.md, "Session recordings". Frame stream records: u32 JPEG length, u32 t, u16 width, u16 height, JPEG.
// Texts in en, pt-BR or es (messages.js), chosen as the app chooses; dates and numbers in the reader's locale.

import { paintLetterboxed } from '/viewer/letterbox.js';
import { CATALOGUES, LANGUAGE_NAMES, LANGUAGES, STORAGE_KEY, localeFor, message, pickLanguage } from '/replay/messages.js';

const recordingId = decodeURIComponent(location.pathname.split('/')[2] ?? '');
const api = `/api/recordings/${encodeURIComponent(recordingId)}`;

const canvas = document.getElementById('screen');
const ctx = canvas.getContext('2d');
const playButton = document.getElementById('play');
const speedSelect = document.getElementById('speed');
const clock = document.getElementById('clock');
const pageTitle = document.getElementById('page-title');
const pageUrl = document.getElementById('page-url');
const status = document.getElementById('status');
const timeline = document.getElementById('timeline');
const progress = document.getElementById('progress');
const cursor = document.getElementById('cursor');
const marks = document.getElementById('marks');
const eventList = document.getElementById('event-list');
const languageSelect = document.getElementById('language');

// ---- language ----

const browserLanguages = () => (navigator.languages?.length > 0 ? navigator.languages : [navigator.language]);

function storedLanguage() {
  try {
    const value = window.localStorage.getItem(STORAGE_KEY);
    return LANGUAGES.includes(value) ? value : null;
  } catch {
    return null; // storage refused (privacy settings): the browser's languages decide
  }
}

let language = storedLanguage() ?? pickLanguage(browserLanguages());
let locale = localeFor(language, browserLanguages());
const t = (key, params) => message(language, locale, key, params);
const number = (value) => new Intl.NumberFormat(locale).format(value);
let recordingInfo = null; // { startedAt, assetId } once loaded: the tab's title names them
let stateShown = 'loading';
let failure = null; // [key, params] of the error shown, so a language switch rewrites it too

/** Writes every static text, the title and what the page shows now in the current language. */
function applyLanguage() {
  document.documentElement.lang = language;
  for (const element of document.querySelectorAll('[data-i18n]')) element.textContent = t(element.dataset.i18n);
  for (const element of document.querySelectorAll('[data-i18n-aria]')) element.setAttribute('aria-label', t(element.dataset.i18nAria));
  for (const option of speedSelect.options) option.textContent = `${number(Number(option.value))}×`;
  if (recordingInfo) {
    const date = new Intl.DateTimeFormat(locale, { dateStyle: 'medium', timeStyle: 'short' }).format(new Date(recordingInfo.startedAt));
    document.title = t('pageTitleOf', { date, asset: recordingInfo.assetId });
  }
  if (failure) status.textContent = t(...failure);
  else setState(stateShown);
  if (events.length > 0) {
    showEvents(events);
    render(now());
  }
}

languageSelect.replaceChildren(
  ...LANGUAGES.map((lang) => {
    const option = document.createElement('option');
    option.value = lang;
    option.lang = lang;
    option.textContent = LANGUAGE_NAMES[lang];
    return option;
  }),
);
languageSelect.value = language;
languageSelect.addEventListener('change', () => {
  if (!LANGUAGES.includes(languageSelect.value)) return;
  language = languageSelect.value;
  locale = localeFor(language, browserLanguages());
  try {
    window.localStorage.setItem(STORAGE_KEY, language);
  } catch {
    // not remembered; still switched for this page
  }
  applyLanguage();
});

/** Frames read ahead of the play position; reading stops there, so a paused or slow replay holds the stream back. */
const LOOKAHEAD_FRAMES = 30;
const HEADER_BYTES = 12;

const player = { duration: 0, position: 0, playing: false, speed: 1, anchorPos: 0, anchorWall: 0 };
let events = [];
let pages = []; // [{ t, url, title }]: what the page showed from t on
let feed = null;
let shownEvent = -1;
let failed = false;

function setState(state) {
  stateShown = state;
  document.body.dataset.state = state;
  playButton.textContent = t(state === 'playing' ? 'pause' : 'play');
  const words = { loading: t('loading'), playing: t('playing', { speed: player.speed }), paused: t('paused'), ended: t('ended') };
  if (!failed) status.textContent = words[state] ?? '';
}

/** Shows an error: `reason` is [message key, params] of the catalogue. */
function fail(reason) {
  failed = true;
  failure = reason;
  player.playing = false;
  document.body.dataset.state = 'error';
  status.textContent = t(...reason);
  playButton.disabled = true;
}

/** Why a request failed, as [message key, params]: the server's own message is English, so its status is shown. */
function errorReason(response) {
  if (response.status === 404) return ['notFound'];
  return ['httpError', { status: String(response.status) }];
}

/** Thrown by the frame reader with the reason to show. */
class ReplayError extends Error {
  constructor(reason) {
    super(reason[0]);
    this.reason = reason;
  }
}

// ---- time ----

function now() {
  if (!player.playing) return player.position;
  return Math.min(player.duration, player.anchorPos + (performance.now() - player.anchorWall) * player.speed);
}

function anchor(position) {
  player.position = position;
  player.anchorPos = position;
  player.anchorWall = performance.now();
}

function format(ms) {
  const s = Math.floor(ms / 1000);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${sec}` : `${m}:${sec}`;
}

/** Index of the last item with t ≤ position, or -1 (items sorted by t). */
function lastAtOrBefore(items, position) {
  let lo = 0;
  let hi = items.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (items[mid].t <= position) {
      found = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return found;
}

// ---- frames ----

/** One read of the frame stream from `fromMs` on; closed (and its request aborted) at the next seek. */
function openFeed(fromMs) {
  const controller = new AbortController();
  const queue = [];
  let wake = null;
  const self = {
    /** The latest frame due at `position` (older due ones are skipped: at 8× not every frame is shown). */
    take(position) {
      let frame = null;
      while (queue.length > 0 && queue[0].t <= position) frame = queue.shift();
      if (frame && wake) wake();
      return frame;
    },
    close() {
      controller.abort();
      if (wake) wake();
    },
  };
  (async () => {
    const response = await fetch(`${api}/frames?from=${Math.max(0, Math.floor(fromMs))}`, { signal: controller.signal, credentials: 'same-origin' });
    if (!response.ok) throw new ReplayError(errorReason(response));
    const reader = response.body.getReader();
    let buffer = new Uint8Array(0);
    for (;;) {
      while (queue.length >= LOOKAHEAD_FRAMES && !controller.signal.aborted) await new Promise((resolve) => (wake = resolve));
      wake = null;
      if (controller.signal.aborted) return reader.cancel();
      const { value, done } = await reader.read();
      if (done) return undefined;
      const joined = new Uint8Array(buffer.length + value.length);
      joined.set(buffer);
      joined.set(value, buffer.length);
      let offset = 0;
      while (joined.length - offset >= HEADER_BYTES) {
        const view = new DataView(joined.buffer, joined.byteOffset + offset, HEADER_BYTES);
        const length = view.getUint32(0);
        if (joined.length - offset - HEADER_BYTES < length) break;
        const start = offset + HEADER_BYTES;
        queue.push({ t: view.getUint32(4), width: view.getUint16(8), height: view.getUint16(10), jpeg: joined.slice(start, start + length) });
        offset = start + length;
      }
      buffer = joined.slice(offset);
    }
  })().catch((error) => {
    if (!controller.signal.aborted) fail(error instanceof ReplayError ? error.reason : ['framesFailed']);
  });
  return self;
}

// Paints one frame at a time; a frame that arrives while one is painting replaces the waiting one (latest wins).
let painting = false;
let nextPaint = null;
let lastFrame = null;
async function paint(frame) {
  nextPaint = frame;
  if (painting) return;
  painting = true;
  try {
    while (nextPaint) {
      const current = nextPaint;
      nextPaint = null;
      const bitmap = await createImageBitmap(new Blob([current.jpeg], { type: 'image/jpeg' }));
      paintLetterboxed(canvas, ctx, bitmap);
      bitmap.close();
      lastFrame = current;
      // What is on screen, for whoever checks (the page's tests): the frame's time in the recording.
      canvas.dataset.frameT = String(current.t);
    }
  } catch {
    status.textContent = t('frameFailed');
  } finally {
    painting = false;
  }
}

// ---- playing ----

function seek(position) {
  const t = Math.max(0, Math.min(player.duration, position));
  anchor(t);
  if (feed) feed.close();
  feed = openFeed(t);
  if (!player.playing) setState(t >= player.duration ? 'ended' : 'paused');
  render(t);
}

function play() {
  if (failed) return;
  if (player.position >= player.duration) seek(0);
  anchor(player.position);
  player.playing = true;
  if (!feed) feed = openFeed(player.position);
  setState('playing');
}

function pause() {
  player.position = now();
  player.playing = false;
  setState(player.position >= player.duration ? 'ended' : 'paused');
}

function setSpeed(speed) {
  anchor(now());
  player.speed = speed;
  if (player.playing) setState('playing');
}

function tick() {
  let t = now();
  if (player.playing && t >= player.duration) {
    t = player.duration;
    player.position = t;
    player.playing = false;
    setState('ended');
  }
  const frame = feed ? feed.take(t) : null;
  if (frame) void paint(frame);
  render(t);
  window.requestAnimationFrame(tick);
}

function render(t) {
  const share = player.duration > 0 ? (t / player.duration) * 100 : 0;
  progress.style.width = `${share}%`;
  cursor.style.left = `${share}%`;
  clock.textContent = `${format(t)} / ${format(player.duration)}`;
  timeline.setAttribute('aria-valuenow', String(Math.round(t)));
  timeline.setAttribute('aria-valuetext', format(t));
  const page = pages[lastAtOrBefore(pages, t)];
  if (pageTitle.textContent !== (page?.title ?? '')) pageTitle.textContent = page?.title ?? '';
  if (pageUrl.textContent !== (page?.url ?? '')) pageUrl.textContent = page?.url ?? '';
  const current = lastAtOrBefore(events, t);
  if (current !== shownEvent) {
    eventList.children[shownEvent]?.classList.remove('current');
    const item = eventList.children[current];
    if (item) {
      item.classList.add('current');
      if (player.playing) item.scrollIntoView({ block: 'nearest' });
    }
    shownEvent = current;
  }
}

// ---- events ----

function describe(e) {
  const known = (key, fallback) => (Object.hasOwn(CATALOGUES.en, key) ? key : fallback);
  // A value the catalogue knows (an end reason, a mouse button) in words; another one as it was recorded.
  const words = (kind, value) => (Object.hasOwn(CATALOGUES.en, `${kind}.${value}`) ? t(`${kind}.${value}`) : value);
  switch (e.type) {
    case 'state': {
      const text = t(known(`state.${e.state}`, 'state.other'), { state: e.state });
      return e.reason ? t('withReason', { text, reason: words('reason', e.reason) }) : text;
    }
    case 'navigated':
      return e.title ? t('navigatedTitled', { title: e.title, url: e.url }) : t('navigated', { url: e.url });
    case 'tab':
      return t(known(`tab.${e.action}`, 'tab.other'), { action: e.action, url: e.url });
    case 'click': {
      const target = e.target || t('thePage');
      return e.button && e.button !== 'left' ? t('clickButton', { target, button: words('button', e.button) }) : t('click', { target });
    }
    case 'keys':
      if (e.field === 'password') return t('keysPassword', { count: e.count, target: e.target });
      return e.text !== undefined ? t('keysText', { text: e.text, target: e.target }) : t('keysMasked', { count: e.count, target: e.target });
    case 'clipboard':
      return t(e.direction === 'copy' ? 'copied' : 'pasted', { count: e.chars });
    case 'download':
      return t('download', { name: e.fileName, size: e.size });
    case 'upload':
      return t('upload', { names: (e.fileNames ?? []).join(', ') });
    case 'blocked':
      return e.url ? t('blockedUrl', { what: e.what, url: e.url, reason: e.reason }) : t('blocked', { what: e.what, reason: e.reason });
    case 'tool':
      return t('tool', { tool: e.tool, summary: e.summary });
    case 'viewer':
      return t(known(`viewer.${e.action}.${e.mode}`, 'viewer.other'), { user: e.userId, action: e.action, mode: e.mode });
    default:
      return e.type;
  }
}

/** What the page showed over time: a navigation in the active tab, or a switch to a tab whose page is known. */
function pageTimeline(list) {
  const byTab = new Map();
  let active = null;
  const out = [];
  for (const e of list) {
    if (e.type === 'navigated') {
      byTab.set(e.tabId, { url: e.url, title: e.title });
      if (active === null || active === e.tabId) {
        active = e.tabId;
        out.push({ t: e.t, url: e.url, title: e.title });
      }
    } else if (e.type === 'tab' && (e.action === 'switched' || e.action === 'opened')) {
      active = e.tabId;
      const known = byTab.get(e.tabId);
      out.push({ t: e.t, url: known?.url ?? e.url, title: known?.title ?? '' });
    }
  }
  return out;
}

function showEvents(list) {
  events = list;
  pages = pageTimeline(list);
  shownEvent = -1; // the list is rebuilt: render marks the current entry again
  const items = [];
  const buttons = [];
  for (const e of list) {
    const text = describe(e);
    const item = document.createElement('li');
    const button = document.createElement('button');
    button.type = 'button';
    button.dataset.t = String(e.t);
    const time = document.createElement('span');
    time.className = 'event-time';
    time.textContent = format(e.t);
    const words = document.createElement('span');
    words.className = 'event-text';
    words.textContent = text;
    button.append(time, words);
    button.addEventListener('click', () => seek(e.t));
    item.append(button);
    items.push(item);

    const mark = document.createElement('button');
    mark.type = 'button';
    mark.className = `mark mark-${e.type}`;
    mark.dataset.t = String(e.t);
    mark.title = `${format(e.t)} ${text}`;
    mark.setAttribute('aria-label', mark.title);
    mark.style.left = `${player.duration > 0 ? (e.t / player.duration) * 100 : 0}%`;
    mark.addEventListener('click', (event) => {
      event.stopPropagation();
      seek(e.t);
    });
    buttons.push(mark);
  }
  eventList.replaceChildren(...items);
  marks.replaceChildren(...buttons);
}

// ---- timeline: click or drag to a time; dragging shows single frames (scrubbing) and seeks on release ----

function positionAt(clientX) {
  const rect = timeline.getBoundingClientRect();
  return Math.max(0, Math.min(1, (clientX - rect.left) / (rect.width || 1))) * player.duration;
}

let scrub = null; // { t, loading, next }
async function scrubFrame(t) {
  if (!scrub) return;
  scrub.next = t;
  if (scrub.loading) return;
  scrub.loading = true;
  while (scrub && scrub.next !== null) {
    const want = scrub.next;
    scrub.next = null;
    const response = await fetch(`${api}/frame?t=${Math.floor(want)}`, { credentials: 'same-origin' }).catch(() => null);
    if (response?.ok && scrub) {
      const jpeg = new Uint8Array(await response.arrayBuffer());
      void paint({ t: Number(response.headers.get('x-frame-t')), jpeg });
    }
  }
  if (scrub) scrub.loading = false;
}

timeline.addEventListener('pointerdown', (event) => {
  if (failed || event.target.closest('.mark')) return;
  timeline.setPointerCapture(event.pointerId);
  scrub = { t: positionAt(event.clientX), loading: false, next: null, wasPlaying: player.playing };
  if (player.playing) pause();
  render(scrub.t);
  void scrubFrame(scrub.t);
});
timeline.addEventListener('pointermove', (event) => {
  if (!scrub) return;
  scrub.t = positionAt(event.clientX);
  render(scrub.t);
  void scrubFrame(scrub.t);
});
timeline.addEventListener('pointerup', (event) => {
  if (!scrub) return;
  const { wasPlaying } = scrub;
  const t = positionAt(event.clientX);
  scrub = null;
  seek(t);
  if (wasPlaying) play();
});
timeline.addEventListener('pointercancel', () => {
  scrub = null;
});
timeline.addEventListener('keydown', (event) => {
  const step = event.shiftKey ? 30_000 : 5_000;
  if (event.key === 'ArrowLeft') seek(now() - step);
  else if (event.key === 'ArrowRight') seek(now() + step);
  else if (event.key === 'Home') seek(0);
  else if (event.key === 'End') seek(player.duration);
  else return;
  event.preventDefault();
});

playButton.addEventListener('click', () => (player.playing ? pause() : play()));
speedSelect.addEventListener('change', () => setSpeed(Number(speedSelect.value) || 1));
document.addEventListener('keydown', (event) => {
  if (event.key !== ' ' || event.target.closest('button, select, input, textarea')) return;
  event.preventDefault();
  if (player.playing) pause();
  else play();
});
new ResizeObserver(() => {
  // Repaint at the new size: while paused, the next frame would come only when the position moves.
  if (lastFrame) void paint(lastFrame);
}).observe(canvas);

// ---- start ----

async function start() {
  applyLanguage();
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(recordingId)) return fail(['notAddress']);
  const response = await fetch(api, { credentials: 'same-origin' });
  if (!response.ok) return fail(errorReason(response));
  const body = await response.json();
  const list = [...body.events].sort((a, b) => a.t - b.t);
  player.duration = Math.max(body.recording.durationMs, list.length > 0 ? list[list.length - 1].t : 0, 1);
  timeline.setAttribute('aria-valuemax', String(player.duration));
  recordingInfo = { startedAt: body.recording.startedAt, assetId: body.recording.assetId };
  events = list;
  applyLanguage();
  playButton.disabled = false;
  seek(0);
  window.requestAnimationFrame(tick);
  return undefined;
}

start().catch(() => fail(['notLoaded']));
