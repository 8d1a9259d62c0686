// Unit tests of the Users tab's checks (web/static/users.js).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MIN_PASSWORD, passwordProblem } from '../static/users.js';

test('a password typed twice must match and be long enough; both empty asks for a generated one', () => {
  assert.equal(passwordProblem('', '', true), '');
  assert.match(passwordProblem('', '', false), /at least 8/);
  assert.match(passwordProblem('short', 'short', true), /at least 8/);
  assert.match(passwordProblem('long enough', 'long enouGh', true), /differ/);
  assert.match(passwordProblem('long enough', '', true), /differ/);
  assert.equal(passwordProblem('x'.repeat(MIN_PASSWORD), 'x'.repeat(MIN_PASSWORD), false), '');
});
