import { describe, expect, it } from 'vitest';
import { urlMatcher } from '../../src/browser/agent/controls.js';

// wait_for's url, matched against the redacted address: a substring, or a glob (`*` within a segment, `**` across).
describe('wait_for url matching', () => {
  it.each([
    ['/careless?k=', 'http://s.test:1/careless?k=[REDACTED]', true],
    ['**/careless?k=*', 'http://s.test:1/careless?k=[REDACTED]', true],
    ['**/careless?k=abc*', 'http://s.test:1/careless?k=[REDACTED]', false],
    ['http://*/x', 'http://s.test:1/x', true],
    ['http://*/x', 'http://s.test:1/y/x', false],
    ['**/x', 'http://s.test:1/y/x', true],
    ['*', 'a/b', false],
    ['**', 'a/b', true],
    ['a.c*', 'abc', false],
  ])('%s against %s: %s', (pattern, url, expected) => {
    expect(urlMatcher(pattern)(url)).toBe(expected);
  });

  it('answers a pattern made to backtrack (**a repeated, as a RegExp exponential) at once, not after minutes', () => {
    // As a RegExp, eight of these took 37 s on a 61-character path; here a thousand take milliseconds. No timing is asserted:
    // the old matcher would hold the test past its timeout.
    const url = `http://site.test:1234/${'a'.repeat(60)}b`;
    expect(urlMatcher(`${'**a'.repeat(1000)}c`)(url)).toBe(false);
    expect(urlMatcher(`${'**a'.repeat(20)}**b`)(url)).toBe(true);
  });
});
