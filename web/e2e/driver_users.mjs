// The Chromium driver's commands for Settings → Users and the Change password form (see
// driver.mjs for the protocol):
//   users                      Settings → Users -> {users: [{username, admin, self,
//                              connections: [name granted]}]}
//   userCreate {username, password, again, admin}
//                              fill New user and submit -> {password} (the generated one, ''
//                              for a typed one), or {error} with the form's error text
//   userSet {username, admin}  or {username, connection, granted}: flip that checkbox and
//                              wait for the list to reload -> {error} ('' when none)
//   userReset {username}       Reset password (and confirm) -> {password} shown once
//   userDelete {username}      Delete (and confirm), wait for the row to go
//   changePassword {current, password, again}
//                              in the connection list, the user menu's Change password ->
//                              {done} (the status text) or {error}
// and the session's control hand-off:
//   handoff {action, name}     action: "request", "release", "take", "give" (to name) or
//                              "all" (the owner's switch, on) -> {holder, mustAsk, requests}:
//                              after the click, once the page shows a change (or at once
//                              without action)
// and the session's waiting room and pointers:
//   waiting {names}            -> {names}: the guests the owner's page shows waiting to be let
//                              in; given names, waits until the list is exactly those
//   admit {name, allow}        click Admit (or, allow false, Deny) for that waiting guest
//   hover {x,y}                real mouse move to desktop pixel x,y
//   pointers {want}            -> {pointers: [{name, x, y}]}: the others' pointers the page
//                              shows; given want (a list of {name, x, y}), waits until it
//                              shows exactly those, within 2 pixels

/**
 * Returns these commands, given the driver's page(cmd), settingsTab, pagePoint and poll
 * interval.
 */
export function userCommands({ page, settingsTab, pagePoint, pollMs }) {
  const open = (p, cmd) => settingsTab(p, '#/settings/users', 'users', { fresh: false, timeout: cmd.timeout });
  const loads = (p) => p.evaluate(() => Number(document.getElementById('users').dataset.loads ?? 0));
  const row = (p, name) => p.locator(`#users tr.user[data-username="${name}"]`);
  // Waits until the list reloaded after n loads, or an error shows; returns the error text.
  const reloaded = async (p, n, errorIds, timeout) => {
    const h = await p.waitForFunction(
      ([n, ids]) => {
        const err = ids.map((id) => document.getElementById(id).textContent).find((t) => t !== '');
        if (err) return { error: err };
        return Number(document.getElementById('users').dataset.loads ?? 0) > n ? { error: '' } : false;
      },
      [n, errorIds],
      { timeout, polling: pollMs },
    );
    return (await h.jsonValue()).error;
  };
  return {
    async users(cmd) {
      const p = page(cmd);
      await open(p, cmd);
      const users = await p.$$eval('#users tr.user', (rows) =>
        rows.map((r) => ({
          username: r.dataset.username,
          admin: r.querySelector('.user-admin').checked,
          self: r.querySelector('.user-admin').disabled,
          connections: [...r.querySelectorAll('.user-grant')].filter((b) => b.checked).map((b) => b.dataset.connection),
        })),
      );
      return { users };
    },

    async userCreate(cmd) {
      const p = page(cmd);
      await open(p, cmd);
      await p.fill('#new-user-name', String(cmd.username ?? ''), { timeout: cmd.timeout });
      await p.fill('#new-user-password', String(cmd.password ?? ''), { timeout: cmd.timeout });
      await p.fill('#new-user-again', String(cmd.again ?? cmd.password ?? ''), { timeout: cmd.timeout });
      await p.setChecked('#new-user-admin', cmd.admin === true, { timeout: cmd.timeout });
      const n = await loads(p);
      await p.click('#new-user-form button[type=submit]', { timeout: cmd.timeout });
      const error = await reloaded(p, n, ['new-user-username-error', 'new-user-password-error', 'users-error'], cmd.timeout);
      if (error) return { error };
      const shown = await p.evaluate(() => !document.getElementById('user-secret').hidden);
      return { password: shown ? await p.inputValue('#user-secret-value') : '' };
    },

    async userSet(cmd) {
      const p = page(cmd);
      await open(p, cmd);
      const box = cmd.connection === undefined
        ? row(p, cmd.username).locator('.user-admin')
        : row(p, cmd.username).locator(`.user-grant[data-connection="${cmd.connection}"]`);
      const n = await loads(p);
      await box.setChecked(cmd.connection === undefined ? cmd.admin === true : cmd.granted === true, { timeout: cmd.timeout });
      return { error: await reloaded(p, n, ['users-error'], cmd.timeout) };
    },

    async userReset(cmd) {
      const p = page(cmd);
      await open(p, cmd);
      const b = row(p, cmd.username).locator('.user-reset');
      await b.click({ timeout: cmd.timeout });
      await row(p, cmd.username).locator('.user-reset[data-confirm="true"]').click({ timeout: cmd.timeout });
      await p.locator('#user-secret').waitFor({ state: 'visible', timeout: cmd.timeout });
      return { password: await p.inputValue('#user-secret-value') };
    },

    async userDelete(cmd) {
      const p = page(cmd);
      await open(p, cmd);
      await row(p, cmd.username).locator('.user-delete').click({ timeout: cmd.timeout });
      await row(p, cmd.username).locator('.user-delete[data-confirm="true"]').click({ timeout: cmd.timeout });
      await row(p, cmd.username).waitFor({ state: 'detached', timeout: cmd.timeout });
      return {};
    },

    async handoff(cmd) {
      const p = page(cmd);
      const read = () => p.evaluate(() => {
        const el = document.getElementById('handoff');
        return {
          holder: el.dataset.holder ?? '',
          mustAsk: el.dataset.mustAsk === 'true',
          requests: [...el.querySelectorAll('.handoff-request')].map((r) => r.dataset.name),
          html: el.innerHTML,
        };
      });
      const before = await read();
      const selector = {
        request: '#handoff .handoff-request-button',
        release: '#handoff .handoff-release',
        take: '#handoff .handoff-take',
        give: `#handoff .handoff-request[data-name="${cmd.name}"] .handoff-give`,
        all: '#handoff-all',
      }[cmd.action];
      if (cmd.action !== undefined && !selector) throw new Error(`unknown hand-off action ${cmd.action}`);
      if (selector) {
        await p.click(selector, { timeout: cmd.timeout });
        await p.waitForFunction((html) => document.getElementById('handoff').innerHTML !== html, before.html,
          { timeout: cmd.timeout, polling: pollMs });
      }
      const { html, ...state } = await read();
      return state;
    },

    async waiting(cmd) {
      const p = page(cmd);
      const want = Array.isArray(cmd.names) ? cmd.names : null;
      const h = await p.waitForFunction(
        (want) => {
          const names = [...document.querySelectorAll('#waiting .waiter')].map((li) => li.dataset.name);
          return want === null || JSON.stringify(names) === JSON.stringify(want) ? names : false;
        },
        want,
        { timeout: cmd.timeout, polling: pollMs },
      );
      return { names: await h.jsonValue() };
    },

    async admit(cmd) {
      const p = page(cmd);
      const li = p.locator(`#waiting .waiter[data-name="${String(cmd.name)}"]`);
      await li.locator(cmd.allow === false ? '.waiter-deny' : '.waiter-admit').click({ timeout: cmd.timeout });
      await li.waitFor({ state: 'detached', timeout: cmd.timeout });
      return {};
    },

    async hover(cmd) {
      const p = page(cmd);
      const at = await pagePoint(p, cmd.x, cmd.y);
      await p.mouse.move(at.x, at.y, { steps: 4 });
      return {};
    },

    async pointers(cmd) {
      const p = page(cmd);
      const h = await p.waitForFunction(
        (want) => {
          const list = [...document.querySelectorAll('#pointers .peer-pointer')].map((el) => ({
            name: el.dataset.name, x: Number(el.dataset.x), y: Number(el.dataset.y),
          }));
          if (document.getElementById('pointers').hidden && want !== null && want.length > 0) return false;
          if (want === null) return list;
          return want.every((w) => list.some((l) => l.name === w.name && Math.abs(l.x - w.x) <= 2 && Math.abs(l.y - w.y) <= 2)) &&
            list.length === want.length ? list : false;
        },
        Array.isArray(cmd.want) ? cmd.want : null,
        { timeout: cmd.timeout, polling: pollMs },
      );
      return { pointers: await h.jsonValue() };
    },

    async changePassword(cmd) {
      const p = page(cmd);
      if (await p.isHidden('#password-form')) await p.click('#password-open', { timeout: cmd.timeout }); // it toggles
      await p.fill('#password-current', String(cmd.current ?? ''), { timeout: cmd.timeout });
      await p.fill('#password-new', String(cmd.password ?? ''), { timeout: cmd.timeout });
      await p.fill('#password-again', String(cmd.again ?? cmd.password ?? ''), { timeout: cmd.timeout });
      await p.click('#password-form button[type=submit]', { timeout: cmd.timeout });
      const h = await p.waitForFunction(
        () => {
          const text = (id) => document.getElementById(id).textContent;
          const error = text('password-current-error') || text('password-new-error');
          if (error) return { error };
          return text('password-done') ? { done: text('password-done') } : false;
        },
        null,
        { timeout: cmd.timeout, polling: pollMs },
      );
      return h.jsonValue();
    },
  };
}
