import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BrowserPool, BrowserSession, ScreencastFrame, SecretFields } from '../../src/browser/index.js';
import { isPictureOfPage, jpegSize } from '../../src/browser/jpeg-size.js';
import { answerEcho, eventLog, html, spec, startSite, startTestPool, waitUntil, type Site } from './support.js';

// What the live view relies on: screencast frames with acknowledgement backpressure, input that
// reaches the page (accents included), and the login window during which nothing is shown or typed.
// Pages report what they received by requesting /echo?v=..., so the test reads it from the server.

const FIELD = 'position:absolute;left:20px;top:20px;width:400px;height:40px;font-size:20px';
let pool: BrowserPool;
let site: Site;
const echoes: string[] = [];

beforeAll(async () => {
  pool = startTestPool();
  site = await startSite((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    switch (url.pathname) {
      case '/echo':
        return answerEcho(url, res, echoes);
      case '/field':
        return html(
          res,
          `<input id="f" style="${FIELD}" oninput="fetch('/echo?v=' + encodeURIComponent(this.value))">
           <div id="tick" style="position:absolute;top:100px;left:20px">0</div>
           <script>let n = 0; setInterval(() => { document.getElementById('tick').textContent = String(++n); }, 30);</script>`,
        );
      case '/login':
        return html(res, `<form method="post" action="/login-post"><input id="user" name="user"><input id="pass" name="pass" type="password"><button id="go">Sign in</button></form>`);
      case '/login-post':
        res.writeHead(303, { location: '/home' });
        return res.end();
      case '/home':
        return html(res, `<h1 id="welcome">Welcome</h1><input id="f" style="${FIELD}" oninput="fetch('/echo?v=' + encodeURIComponent(this.value))">`);
      default:
        return html(res, 'portal');
    }
  });
});
afterAll(async () => {
  await pool?.close();
  await site?.close();
});

async function openField(): Promise<BrowserSession> {
  const session = await pool.open(spec({ onEvent: () => undefined }));
  await session.navigate(site.url('portal.test', '/field'));
  return session;
}

async function clickField(session: BrowserSession): Promise<void> {
  await session.input({ type: 'mouse', action: 'move', x: 100, y: 40 });
  await session.input({ type: 'mouse', action: 'down', x: 100, y: 40, button: 'left' });
  await session.input({ type: 'mouse', action: 'up', x: 100, y: 40, button: 'left' });
}

const key = async (session: BrowserSession, name: string) => {
  await session.input({ type: 'key', action: 'down', key: name });
  await session.input({ type: 'key', action: 'up', key: name });
};

describe('screencast', () => {
  it('delivers JPEG frames, holds the next one until the last is acked, and stops', async () => {
    const session = await openField();
    const frames: ScreencastFrame[] = [];
    const stop = await session.startScreencast({ maxWidth: 640, maxHeight: 360, quality: 60 }, (frame) => frames.push(frame));
    const first = await waitUntil(() => frames[0]);
    expect(first.data.subarray(0, 2)).toEqual(Buffer.from([0xff, 0xd8]));
    expect(first).toMatchObject({ width: 1280, height: 720 });

    // The page changes every 30 ms; without an ack nothing more is delivered.
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(frames).toHaveLength(1);

    first.ack();
    const second = await waitUntil(() => frames[1]);
    second.ack();
    // Acked promptly, frames keep coming.
    await waitUntil(() => {
      frames.at(-1)!.ack();
      return frames.length >= 5;
    });

    await stop();
    frames.at(-1)!.ack();
    const count = frames.length;
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(frames.length).toBe(count);
    await session.close();
  });
});

describe('a viewer that joins a stream (the recording beside the live view)', () => {
  it("takes the stream's own frames at its own pace while the stream runs, and has a screencast of its own only alone", async () => {
    const session = await openField();
    const pictureOf = (frame: ScreencastFrame) => jpegSize(frame.data.toString('base64'));
    const joined: ScreencastFrame[] = [];
    const stopJoined = await session.startScreencast({ maxWidth: 320, maxHeight: 180, quality: 40, joinStream: true }, (frame) => joined.push(frame));
    // Alone, it has its own screencast: pictures scaled to its maximum size.
    const alone = await waitUntil(() => joined[0]);
    expect(pictureOf(alone)).toEqual({ width: 320, height: 180 });

    const stream: ScreencastFrame[] = [];
    let streamedAt = 0;
    const stopStream = await session.startScreencast({ maxWidth: 640, maxHeight: 360, quality: 60 }, (frame) => {
      stream.push(frame);
      streamedAt = Date.now();
      frame.ack();
    });
    const fromStream = (frame: ScreencastFrame | undefined) => frame !== undefined && stream.some((f) => f.data === frame.data);
    // Once the stream runs, it gets the stream's frames themselves (one picture, decoded once), not a second screencast's.
    const taken = await waitUntil(
      () => {
        const last = joined.at(-1)!;
        if (fromStream(last)) return last;
        last.ack();
        return undefined;
      },
      15_000,
      () => `${joined.length} joined frames, ${stream.length} stream frames, none shared`,
    );
    expect(pictureOf(taken)).toEqual({ width: 640, height: 360 });

    // Its pace is its own: while it has not acked, the ticking page's stream goes on and it gets nothing more.
    const count = joined.length;
    const streamed = stream.length;
    await waitUntil(() => stream.length >= streamed + 5, 15_000, () => `${stream.length - streamed} new stream frames`);
    expect(joined).toHaveLength(count);
    taken.ack();
    const next = await waitUntil(() => joined[count]);
    expect(fromStream(next)).toBe(true);
    expect(next.data).not.toBe(taken.data);

    // A navigation to a still page: the stream shows it, and what the joining viewer last gets is what the stream last showed.
    next.ack();
    const beforeNavigation = stream.length;
    await session.navigate(site.url('portal.test', '/home'));
    await waitUntil(
      () => {
        joined.at(-1)!.ack();
        return stream.length > beforeNavigation && streamedAt < Date.now() - 500 && joined.at(-1)!.data === stream.at(-1)!.data;
      },
      15_000,
      () => `${joined.length} joined frames, ${stream.length - beforeNavigation} stream frames since the navigation`,
    );
    expect(joined.at(-1)!.data.equals(next.data)).toBe(false);

    // Without the stream, its own screencast again: a picture of the still page, scaled to its size.
    await stopStream();
    await waitUntil(
      () => {
        const last = joined.at(-1)!;
        last.ack();
        return !fromStream(last) && pictureOf(last)?.width === 320;
      },
      15_000,
      () => `${joined.length} joined frames, the last ${JSON.stringify(pictureOf(joined.at(-1)!))}`,
    );
    await stopJoined();
    await session.close();
  });
});

describe('viewport', () => {
  it('resize changes the page size that frames report, and refuses absurd sizes', async () => {
    const session = await openField();
    const frames: ScreencastFrame[] = [];
    const stop = await session.startScreencast({ maxWidth: 640, maxHeight: 360, quality: 50 }, (frame) => {
      frames.push(frame);
      frame.ack();
    });
    await waitUntil(() => frames[0]);
    await session.resize(800, 600);
    await waitUntil(() => frames.find((frame) => frame.width === 800 && frame.height === 600), 15_000, () => JSON.stringify(frames.map((f) => [f.width, f.height])));
    await expect(session.resize(10, 10)).rejects.toMatchObject({ code: 'invalid_request' });
    await expect(session.resize(1.5, 700)).rejects.toMatchObject({ code: 'invalid_request' });
    await stop();
    await session.close();
  });
});

describe('viewport changes as the live view makes them (resize, then a new screencast)', () => {
  it('shows no frame whose picture is of another page size than the one it reports', async () => {
    const session = await openField();
    const seen: string[] = [];
    const wrong: string[] = [];
    for (const [width, height] of [[1000, 660], [1280, 720], [1000, 573], [900, 700], [1280, 720], [1000, 660]] as const) {
      await session.resize(width, height);
      const frames: ScreencastFrame[] = [];
      const stop = await session.startScreencast({ maxWidth: width, maxHeight: height, quality: 50 }, (frame) => {
        frames.push(frame);
        const picture = jpegSize(frame.data.toString('base64'))!;
        const line = `${frame.width}x${frame.height} as ${picture.width}x${picture.height}`;
        seen.push(line);
        if (!isPictureOfPage(picture, frame)) wrong.push(line);
        frame.ack();
      });
      await waitUntil(() => frames.filter((frame) => frame.width === width && frame.height === height).length >= 3, 15_000, () => seen.join(', '));
      await stop();
    }
    expect(wrong, seen.join(', ')).toEqual([]);
    await session.close();
  });
});

describe('input', () => {
  it('types text with accents, keys and shortcuts into a field', async () => {
    const session = await openField();
    await clickField(session);
    await session.input({ type: 'text', text: 'é ñ ç ã' });
    await waitUntil(() => echoes.includes('é ñ ç ã'), 15_000, () => JSON.stringify(echoes));
    await key(session, 'a');
    await session.input({ type: 'key', action: 'down', key: 'Shift' });
    await key(session, 'Z');
    await session.input({ type: 'key', action: 'up', key: 'Shift' });
    await waitUntil(() => echoes.includes('é ñ ç ãaZ'), 15_000, () => JSON.stringify(echoes));
    await key(session, 'Backspace');
    await waitUntil(() => echoes.includes('é ñ ç ãa'), 15_000, () => JSON.stringify(echoes));
    // Ctrl+A selects (it does not type an "a"); Backspace then empties the field.
    await session.input({ type: 'key', action: 'down', key: 'Control' });
    await key(session, 'a');
    await session.input({ type: 'key', action: 'up', key: 'Control' });
    await key(session, 'Backspace');
    await waitUntil(() => echoes.at(-1) === '', 15_000, () => JSON.stringify(echoes));
    // AltGr arrives as Control+Alt: the character it makes is typed.
    await session.input({ type: 'key', action: 'down', key: 'Control' });
    await session.input({ type: 'key', action: 'down', key: 'Alt' });
    await key(session, '@');
    await session.input({ type: 'key', action: 'up', key: 'Alt' });
    await session.input({ type: 'key', action: 'up', key: 'Control' });
    await waitUntil(() => echoes.at(-1) === '@', 15_000, () => JSON.stringify(echoes));
    await session.close();
  });

  it('refuses malformed input', async () => {
    const session = await openField();
    await expect(session.input({ type: 'mouse', action: 'move', x: Number.NaN, y: 1 })).rejects.toMatchObject({ code: 'invalid_request' });
    await expect(session.input({ type: 'text', text: 'x'.repeat(10_001) })).rejects.toMatchObject({ code: 'invalid_request' });
    await expect(session.input({ type: 'key', action: 'down', key: '' })).rejects.toMatchObject({ code: 'invalid_request' });
    await expect(session.input({ type: 'nope' } as never)).rejects.toMatchObject({ code: 'invalid_request' });
    await session.close();
  });
});

describe('login window', () => {
  it('withholds frames and ignores input until the login is done, then shows the page', async () => {
    const log = eventLog();
    const session = await pool.open(spec({ onEvent: log.onEvent }));
    await session.navigate(site.url('portal.test', '/field'));
    await clickField(session);
    const frames: ScreencastFrame[] = [];
    const stop = await session.startScreencast({ maxWidth: 640, maxHeight: 360, quality: 50 }, (frame) => {
      frames.push(frame);
      frame.ack();
    });
    await waitUntil(() => frames.length >= 2);

    let release!: () => void;
    const credentialAsked = new Promise<void>((resolve) => {
      release = resolve;
    });
    let asked = false;
    const values = new Map([
      ['username', Buffer.from('alice')],
      ['password', Buffer.from('correct horse battery')],
    ]);
    const fields: SecretFields = { names: [...values.keys()], get: (name) => values.get(name), dispose: () => values.clear() };
    const login = session.login({
      startUrl: site.url('portal.test', '/login'),
      recipe: { injection: 'fill', steps: [{ fill: '#user', value: '{{username}}' }, { fill: '#pass', value: '{{password}}' }, { click: '#go' }] },
      successCheck: { selector: '#welcome' },
      failureCheck: null,
      readCredential: async () => {
        asked = true;
        await credentialAsked;
        return fields;
      },
    });
    const framesAtLoginStart = frames.length;
    await waitUntil(() => asked);
    await session.input({ type: 'text', text: 'typed-while-signing-in' });
    // The page keeps changing every 30 ms; none of it may reach the viewer during the login.
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(frames.length).toBe(framesAtLoginStart);
    release();

    expect(await login).toMatchObject({ ok: true, injection: 'fill' });
    await waitUntil(() => frames.length > framesAtLoginStart);
    expect(echoes).not.toContain('typed-while-signing-in');
    expect(values.size).toBe(0);
    await stop();
    await session.close();
  });
});
