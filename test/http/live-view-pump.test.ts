import { describe, expect, it } from 'vitest';
import { createFramePump, type FrameSink } from '../../src/http/live-view/frame-pump.js';
import { parseClientMessage } from '../../src/http/live-view/messages.js';
import type { LiveFrame } from '../../src/http/live-view/ports.js';

/** A socket that writes only when told to (a viewer that does not read): sends wait in `unwritten`. */
function slowSink() {
  const unwritten: Array<() => void> = [];
  const sink: FrameSink = { send: (_data, done) => void unwritten.push(() => done()) };
  return { sink, unwritten, writeAll: () => unwritten.splice(0).forEach((done) => done()) };
}

/** Frames as the browser module hands them: the next comes only after this one is acked (browser/screencast.ts). */
function frames() {
  let produced = 0;
  let browserAcks = 0;
  return {
    next(): LiveFrame {
      produced++;
      return { data: Buffer.from([produced]), width: 1280, height: 720, timestampMs: produced, ack: () => void browserAcks++ };
    },
    get produced() {
      return produced;
    },
    get browserAcks() {
      return browserAcks;
    },
  };
}

describe('live view: frame pump (backpressure per viewer)', () => {
  it('sends at most two frames that are not both written and acked, holding only the newest other one', () => {
    const { sink, unwritten, writeAll } = slowSink();
    const pump = createFramePump({ sink });
    const source = frames();
    for (let i = 0; i < 50; i++) pump.offer(source.next());
    // Nothing written yet: two went out, one (the newest) is held, 47 were replaced and released to the browser.
    expect(pump.stats).toMatchObject({ sent: 2, dropped: 47, peakInFlight: 2 });
    expect(unwritten).toHaveLength(2);
    // Written but never acked by the viewer: still nothing more goes out.
    writeAll();
    for (let i = 0; i < 50; i++) pump.offer(source.next());
    expect(pump.stats.sent).toBe(2);
    // One ack: exactly one more frame.
    pump.clientAck();
    expect(pump.stats.sent).toBe(3);
    expect(pump.stats.peakInFlight).toBe(2);
  });

  it('ignores acks for frames it never sent, so a client cannot save up credit', () => {
    const { sink, writeAll } = slowSink();
    const pump = createFramePump({ sink });
    const source = frames();
    for (let i = 0; i < 100; i++) pump.clientAck();
    for (let i = 0; i < 10; i++) pump.offer(source.next());
    writeAll();
    expect(pump.stats.sent).toBe(2);
    expect(pump.stats.acked).toBe(0);
  });

  it('a client that acks without reading cannot grow the socket buffer: unwritten frames count as in flight', () => {
    const { sink, unwritten } = slowSink();
    const pump = createFramePump({ sink });
    const source = frames();
    for (let i = 0; i < 20; i++) {
      pump.offer(source.next());
      pump.clientAck();
    }
    expect(unwritten).toHaveLength(2);
    expect(pump.stats.sent).toBe(2);
  });

  it('a viewer that keeps up gets every frame, and every frame is released to the browser', () => {
    const sent: number[] = [];
    const pump = createFramePump({ sink: { send: (data, done) => (sent.push(data[0]!), done()) } });
    const source = frames();
    for (let i = 0; i < 30; i++) {
      pump.offer(source.next());
      pump.clientAck();
    }
    expect(sent).toHaveLength(30);
    expect(source.browserAcks).toBe(30);
    expect(pump.stats).toMatchObject({ sent: 30, acked: 30, dropped: 0 });
  });

  it('after close, frames are released to the browser and not sent', () => {
    const { sink } = slowSink();
    const pump = createFramePump({ sink, maxInFlight: 1 });
    const source = frames();
    pump.offer(source.next());
    pump.offer(source.next()); // held
    pump.close();
    pump.offer(source.next());
    expect(pump.stats.sent).toBe(1);
    expect(source.browserAcks).toBe(2);
  });
});

describe('live view: client messages', () => {
  const parse = (value: unknown, binary = false) => parseClientMessage(Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)), binary);

  it('accepts the input events, resize, switch_tab and ack', () => {
    for (const message of [
      { type: 'mouse', action: 'down', x: 10, y: 20, button: 'left' },
      { type: 'mouse', action: 'move', x: 0, y: 0 },
      { type: 'wheel', x: 1, y: 2, deltaX: 0, deltaY: -120 },
      { type: 'key', action: 'down', key: 'Enter', code: 'Enter' },
      { type: 'text', text: 'Crème brûlée, señor, ação' },
      { type: 'resize', width: 1024, height: 768 },
      { type: 'switch_tab', tabId: 't2' },
      { type: 'ack' },
    ]) {
      expect(parse(message)).toEqual(message);
    }
  });

  it('refuses everything else without throwing', () => {
    const bad: unknown[] = [
      'not json',
      '',
      'null',
      '[]',
      '{"type":"mouse","action":"down","x":1e400,"y":0}',
      { type: 'mouse', action: 'explode', x: 1, y: 1 },
      { type: 'mouse', action: 'down', x: -5, y: 1 },
      { type: 'mouse', action: 'down', x: '10', y: 1 },
      { type: 'wheel', x: 1, y: 1, deltaX: 0, deltaY: 1e9 },
      { type: 'key', action: 'down', key: '' },
      { type: 'key', action: 'down', key: 'x'.repeat(33) },
      { type: 'text', text: '' },
      { type: 'text', text: 'x'.repeat(1_001) },
      { type: 'resize', width: 1.5, height: 700 },
      { type: 'switch_tab' },
      { type: 'ack', extra: 1 },
      { type: 'cdp', method: 'Runtime.evaluate', params: { expression: '1' } },
      '{"type":"ack","__proto__":{"polluted":true}}',
    ];
    for (const message of bad) expect(parse(message), JSON.stringify(message)).toBeNull();
    expect(parse({ type: 'ack' }, true)).toBeNull();
    expect(({} as { polluted?: boolean }).polluted).toBeUndefined();
  });
});
