// Unit tests of the page's text formatting of link reports (web/static/format.js).
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { linkText, rateText } from '../static/format.js';

test('rates read in bits per second', () => {
  assert.equal(rateText(1_250_000), '10.0 Mbit/s');
  assert.equal(rateText(227_500), '1.8 Mbit/s');
  assert.equal(rateText(106_250), '850 kbit/s');
  assert.equal(rateText(25_000_000), '200 Mbit/s');
  assert.equal(rateText(0), '0 kbit/s');
  assert.equal(rateText(-5), '0 kbit/s');
  assert.equal(rateText('x'), '0 kbit/s');
});

test('link messages', () => {
  assert.equal(linkText({ type: 'link', state: 'limited', rate: 227_500, lighter: true }), 'Slow connection · 1.8 Mbit/s');
  assert.equal(linkText({ type: 'link', state: 'limited' }), 'Slow connection');
  assert.equal(linkText({ type: 'link', state: 'limited', rate: 'fast' }), 'Slow connection');
  assert.equal(linkText({ type: 'link', state: 'ok', rate: 9_000_000 }), '');
  assert.equal(linkText({ type: 'link', state: 'bogus' }), '');
  assert.equal(linkText(null), '');
});
