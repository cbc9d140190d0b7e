/* global document, window, location, navigator, WebSocket, Blob, createImageBitmap, ResizeObserver, FormData */
// The minimal live viewer (issue 5): paints the session's frames on a canvas and sends mouse, wheel, keyboard,
// resize, tab switches and pasted text back, and puts what is copied in the remote page on this computer's clipboard.
// Framework-free on purpose; the full UI (web/, Vite) replaces it later.
// Wire format: src/http/live-view/messages.ts.

import { paintLetterboxed } from './letterbox.js';

const sessionId = decodeURIComponent(location.pathname.split('/')[2] ?? '');
const canvas = document.getElementById('screen');
const keys = document.getElementById('keys');
const stage = document.getElementById('stage');
const overlay = document.getElementById('overlay');
const status = document.getElementById('status');
const tabsNav = document.getElementById('tabs');
const copyButton = document.getElementById('copy-out');
const chooserBox = document.getElementById('chooser');
const chooserText = document.getElementById('chooser-text');
const chooserInput = document.getElementById('chooser-input');
const downloadList = document.getElementById('downloads');
/** As MAX_PASTE_CHARS in src/http/live-view/messages.ts: a longer clipboard is sent cut to this. */
const MAX_PASTE_CHARS = 16 * 1024;
const ctx = canvas.getContext('2d');

let mode = 'watch';
let viewport = null; // page size in CSS pixels of the frames that follow (from the server's state messages)
let shown = { page: null, x: 0, y: 0, w: 0, h: 0 }; // the frame on the canvas: its page size and where it sits (CSS pixels)
let ended = false;
let failed = false; // the server said why it closes: keep its words on screen

const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
const socket = new WebSocket(`${scheme}//${location.host}/api/sessions/${encodeURIComponent(sessionId)}/live`);
socket.binaryType = 'arraybuffer';

function send(message) {
  if (socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(message));
}

// A short notice (copied, paste refused, busy) stays in the status bar for a few seconds: frames do not overwrite it.
let notice = false;
let noticeTimer;
function notify(text) {
  status.textContent = text;
  notice = true;
  clearTimeout(noticeTimer);
  noticeTimer = setTimeout(() => {
    notice = false;
    if (!ended && !failed) status.textContent = mode === 'control' ? 'Live' : 'Watching (read-only)';
  }, 4000);
}

function show(text, blocking) {
  if (!notice || blocking) status.textContent = text;
  overlay.textContent = text;
  overlay.classList.toggle('hidden', !blocking);
}

// Frames: painted one at a time, acked once painted (the server sends at most two ahead of our acks).
let painting = Promise.resolve();
function paint(bytes) {
  // The page size that goes with this frame is the one announced before it arrived.
  const page = viewport;
  painting = painting.then(async () => {
    try {
      const bitmap = await createImageBitmap(new Blob([bytes], { type: 'image/jpeg' }));
      const placed = paintLetterboxed(canvas, ctx, bitmap);
      shown = { page: page ?? { width: bitmap.width, height: bitmap.height }, ...placed };
      bitmap.close();
      if (!ended) show(mode === 'control' ? 'Live' : 'Watching (read-only)', false);
    } finally {
      send({ type: 'ack' });
    }
  });
}

socket.addEventListener('message', (event) => {
  if (typeof event.data !== 'string') return paint(event.data);
  const message = JSON.parse(event.data);
  switch (message.type) {
    case 'state':
      mode = message.mode;
      if (message.viewport) viewport = message.viewport;
      document.body.classList.toggle('watching', mode !== 'control');
      if (message.state === 'active' && !ended) show(mode === 'control' ? 'Live' : 'Watching (read-only)', shown.page === null);
      break;
    case 'signing_in':
      show('Signing in…', true);
      break;
    case 'tabs':
      renderTabs(message.tabs);
      break;
    case 'clipboard':
      copiedOut(message.text, message.truncated);
      break;
    case 'download':
      addDownload(message);
      break;
    case 'download_dropped':
      dropDownload(message);
      break;
    case 'file_chooser':
      askForFiles(message);
      break;
    case 'file_chooser_closed':
      if (chooser && chooser.id === message.id) closeChooser();
      break;
    case 'ended':
      ended = true;
      show(`Session ended (${message.reason})`, true);
      break;
    case 'error':
      if (message.code === 'read_only' || message.code === 'busy' || message.code === 'paste_denied' || message.code === 'file_chooser_closed') notify(message.message);
      else {
        failed = true;
        show(message.message, true);
      }
      break;
  }
});
socket.addEventListener('open', () => {
  show('Waiting for the first picture…', true);
  sendSize();
});
socket.addEventListener('close', (event) => {
  if (!ended && !failed) show(event.code === 1001 ? 'The server is restarting; reload in a moment.' : 'Disconnected.', true);
});

function renderTabs(tabs) {
  tabsNav.replaceChildren(
    ...tabs.map((tab) => {
      const button = document.createElement('button');
      button.type = 'button';
      button.textContent = tab.title || tab.url;
      button.title = tab.url;
      button.classList.toggle('active', tab.active);
      button.addEventListener('click', () => send({ type: 'switch_tab', tabId: tab.id }));
      return button;
    }),
  );
}

// Size: the page is laid out at the size of our stage (debounced while the window is dragged).
let sizeTimer;
function sendSize() {
  send({ type: 'resize', width: Math.round(stage.clientWidth), height: Math.round(stage.clientHeight) });
}
new ResizeObserver(() => {
  clearTimeout(sizeTimer);
  sizeTimer = setTimeout(sendSize, 200);
}).observe(stage);

// Pointer: canvas position → page CSS pixels of the frame shown.
function pagePoint(event) {
  const rect = canvas.getBoundingClientRect();
  const size = shown.page ?? { width: 0, height: 0 };
  const x = ((event.clientX - rect.left - shown.x) / (shown.w || 1)) * size.width;
  const y = ((event.clientY - rect.top - shown.y) / (shown.h || 1)) * size.height;
  return { x: Math.round(Math.max(0, Math.min(size.width, x))), y: Math.round(Math.max(0, Math.min(size.height, y))) };
}
const BUTTONS = ['left', 'middle', 'right'];
let pendingMove = null;
canvas.addEventListener('mousemove', (event) => {
  if (mode !== 'control') return;
  // One move per animation frame is plenty, and keeps a fast mouse from flooding the socket.
  if (pendingMove === null) window.requestAnimationFrame(() => {
    send({ type: 'mouse', action: 'move', ...pendingMove });
    pendingMove = null;
  });
  pendingMove = pagePoint(event);
});
for (const [type, action] of [['mousedown', 'down'], ['mouseup', 'up'], ['dblclick', 'dblclick']]) {
  canvas.addEventListener(type, (event) => {
    if (mode !== 'control') return;
    event.preventDefault();
    send({ type: 'mouse', action, ...pagePoint(event), button: BUTTONS[event.button] ?? 'left' });
    if (action === 'down') keys.focus({ preventScroll: true });
  });
}
canvas.addEventListener('contextmenu', (event) => event.preventDefault());
canvas.addEventListener(
  'wheel',
  (event) => {
    if (mode !== 'control') return;
    event.preventDefault();
    const unit = event.deltaMode === 1 ? 16 : event.deltaMode === 2 ? 400 : 1;
    send({ type: 'wheel', ...pagePoint(event), deltaX: event.deltaX * unit, deltaY: event.deltaY * unit });
  },
  { passive: false },
);

// Keyboard: printable characters arrive as text from the hidden textarea (so accents, dead keys and input methods
// are composed by this browser, with the user's own layout); everything else (Enter, Tab, arrows, shortcuts) as keys.
function isPrintable(event) {
  if (event.key.length !== 1 && !/^\p{L}$/u.test(event.key)) return false;
  if (event.getModifierState('AltGraph')) return true;
  return !event.ctrlKey && !event.metaKey && !event.altKey;
}
// Keys sent down and not yet up: released when focus leaves (Alt+Tab away would otherwise leave Alt held remotely).
const held = new Map();
keys.addEventListener('keydown', (event) => {
  if (mode !== 'control' || event.isComposing || event.key === 'Dead' || event.key === 'Process') return;
  // Ctrl/Cmd+V: this browser pastes into the textarea (the paste event below), which needs no clipboard permission.
  if ((event.ctrlKey || event.metaKey) && !event.altKey && event.key.toLowerCase() === 'v') return;
  if (isPrintable(event)) return; // the input event below sends it as text
  event.preventDefault();
  held.set(event.key, event.code);
  send({ type: 'key', action: 'down', key: event.key, code: event.code });
});
keys.addEventListener('keyup', (event) => {
  if (mode !== 'control' || !held.has(event.key)) return;
  held.delete(event.key);
  send({ type: 'key', action: 'up', key: event.key, code: event.code });
});
keys.addEventListener('blur', () => {
  for (const [key, code] of held) send({ type: 'key', action: 'up', key, code });
  held.clear();
});
keys.addEventListener('input', (event) => {
  if (event.isComposing) return;
  // Composed text is sent at compositionend (some browsers repeat it here as insertFromComposition); a paste is sent by
  // the paste listener below, as its own message.
  if (mode === 'control' && event.inputType === 'insertText' && event.data) send({ type: 'text', text: event.data });
  keys.value = '';
});
keys.addEventListener('compositionend', (event) => {
  if (mode === 'control' && event.data) send({ type: 'text', text: event.data });
  keys.value = '';
});
canvas.addEventListener('click', () => keys.focus({ preventScroll: true }));

// Clipboard. Paste in: the text of this computer's clipboard goes as a `paste` message (the server inserts it where the
// asset allows paste, and says paste_denied otherwise); the remote browser's own clipboard is never used.
keys.addEventListener('paste', (event) => {
  event.preventDefault();
  if (mode !== 'control') return;
  const text = event.clipboardData ? event.clipboardData.getData('text/plain') : '';
  if (!text) return;
  send({ type: 'paste', text: text.slice(0, MAX_PASTE_CHARS) });
  if (text.length > MAX_PASTE_CHARS) notify(`Pasted the first ${MAX_PASTE_CHARS} characters`);
});

// Copy out: what the remote page copied is written to this computer's clipboard. A browser may refuse without a
// click of ours (no recent user gesture, or no focus): then a button does it.
let copied = '';
function copiedOut(text, truncated) {
  copied = text;
  const note = truncated ? ' (cut to its first part)' : '';
  const write = navigator.clipboard && navigator.clipboard.writeText ? navigator.clipboard.writeText(text) : Promise.reject(new Error('no clipboard'));
  write.then(
    () => {
      copyButton.hidden = true;
      notify(`Copied from the portal${note}`);
    },
    () => {
      copyButton.hidden = false;
      notify(`The portal copied text${note}: click “Copy to this computer”`);
    },
  );
}
copyButton.addEventListener('click', () => {
  navigator.clipboard.writeText(copied).then(
    () => {
      copyButton.hidden = true;
      notify('Copied from the portal');
      keys.focus({ preventScroll: true });
    },
    () => notify('This browser refused to write to the clipboard.'),
  );
});

// Files (docs/live-view.md, "Downloads and uploads"), for the session's owner only. A file the portal sent is a
// link to GET /api/sessions/{id}/downloads/{id}; a file chooser of the portal opens this computer's own file dialog
// and the chosen files are posted (multipart, with the web session's CSRF token) to /api/sessions/{id}/uploads/{id}.
let chooser = null;
const seenDownloads = new Set();

function addDownload(file) {
  if (seenDownloads.has(file.id)) return;
  seenDownloads.add(file.id);
  const item = document.createElement('li');
  const link = document.createElement('a');
  link.href = `/api/sessions/${encodeURIComponent(sessionId)}/downloads/${encodeURIComponent(file.id)}`;
  link.download = file.fileName;
  link.textContent = `Download ${file.fileName} (${Math.max(1, Math.round(file.size / 1024))} KB)`;
  item.append(link);
  downloadList.append(item);
  downloadList.hidden = false;
  notify(`The portal sent ${file.fileName}.`);
}

const DROPPED = {
  session_limit: 'is no longer available (a session keeps at most 20 files, 256 MB; the oldest made room)',
  too_large: 'was not kept: it is larger than this portal allows',
  failed: 'was not kept: the download failed',
};

function dropDownload(file) {
  if (file.id) downloadList.querySelector(`a[href$="/downloads/${encodeURIComponent(file.id)}"]`)?.parentElement?.remove();
  downloadList.hidden = downloadList.children.length === 0;
  notify(`${file.fileName} ${DROPPED[file.reason] ?? 'was not kept'}.`);
}

function askForFiles(request) {
  chooser = request;
  chooserInput.multiple = request.multiple;
  chooserInput.accept = request.accept.join(',');
  chooserText.textContent = request.multiple ? 'The portal asks for one or more files.' : 'The portal asks for a file.';
  chooserBox.hidden = false;
  document.getElementById('chooser-choose').focus();
}

function closeChooser() {
  chooser = null;
  chooserInput.value = '';
  chooserBox.hidden = true;
  keys.focus({ preventScroll: true });
}

document.getElementById('chooser-choose').addEventListener('click', () => chooserInput.click());
document.getElementById('chooser-cancel').addEventListener('click', () => {
  if (chooser) send({ type: 'file_chooser_cancel', id: chooser.id });
  closeChooser();
});
chooserInput.addEventListener('change', async () => {
  const files = chooserInput.files;
  if (!chooser || !files || files.length === 0) return;
  const form = new FormData();
  for (const file of files) form.append('file', file, file.name);
  notify('Sending to the portal…');
  try {
    const session = await fetch('/api/auth/session', { credentials: 'same-origin', cache: 'no-store' }).then((r) => (r.ok ? r.json() : {}));
    const answer = await fetch(`/api/sessions/${encodeURIComponent(sessionId)}/uploads/${encodeURIComponent(chooser.id)}`, {
      method: 'POST',
      headers: session.csrfToken ? { 'x-csrf-token': session.csrfToken } : {},
      body: form,
      credentials: 'same-origin',
    });
    const body = await answer.json().catch(() => ({}));
    if (answer.ok) {
      notify(`Sent to the portal: ${body.files.map((f) => f.name).join(', ')}.`);
      closeChooser();
    } else notify(body.error && body.error.message ? body.error.message : 'The file could not be sent to the portal.');
  } catch {
    notify('The file could not be sent to the portal.');
  }
  chooserInput.value = '';
});
