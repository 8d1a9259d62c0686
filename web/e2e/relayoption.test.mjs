import assert from 'node:assert/strict';
import { test } from 'node:test';

import { relayOnlyRequested } from '../static/session.js';

test('relayOnlyRequested: only ?relay=1 forces relayed ICE', () => {
  assert.equal(relayOnlyRequested('?relay=1'), true);
  assert.equal(relayOnlyRequested('?x=2&relay=1'), true);
  assert.equal(relayOnlyRequested('relay=1'), true);
  for (const search of ['', '?relay=0', '?relay=true', '?relay', '?relay=1x', '?%zz']) {
    assert.equal(relayOnlyRequested(search), false, search);
  }
  assert.equal(relayOnlyRequested(), false); // no location in node
});
