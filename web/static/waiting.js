// The waiting room, seen by a session's owner and members: the guests waiting to be let in
// through a link whose profile admits each guest (docs/PROTOCOL.md, section 2: waiting,
// admit), each with Admit and Deny.

import { button, element } from './dom.js';

/** Most waiting guests the list shows (the server lets at most 32 wait). */
const MAX_SHOWN = 32;

/** Returns the valid entries of a waiting message: [{peer, name, address}]. */
export function parseWaiting(m) {
  const list = Array.isArray(m?.waiting) ? m.waiting : [];
  return list
    .filter((w) => typeof w?.peer === 'string' && w.peer !== '' && typeof w.name === 'string')
    .slice(0, MAX_SHOWN)
    .map((w) => ({ peer: w.peer, name: w.name, address: typeof w.address === 'string' ? w.address : '' }));
}

/**
 * WaitingView keeps the list element ul up to date. decide(peer, allow) is called when Admit
 * or Deny is clicked; announce(text) for each guest that starts waiting.
 */
export class WaitingView {
  constructor(ul, { decide, announce }) {
    this.ul = ul;
    this.decide = decide;
    this.announce = announce;
    this.known = new Set();
    this.update([]);
  }

  update(list) {
    for (const w of list) {
      if (!this.known.has(w.peer)) this.announce(`${w.name} is waiting to join`);
    }
    this.known = new Set(list.map((w) => w.peer));
    this.ul.replaceChildren(
      ...list.map((w) => {
        const li = element('li', 'waiter');
        li.dataset.peer = w.peer;
        li.dataset.name = w.name;
        li.append(element('span', 'waiter-name', w.name), element('span', 'waiter-address muted', w.address));
        const admit = button('waiter-admit', 'Admit');
        const deny = button('waiter-deny', 'Deny');
        for (const [b, allow] of [[admit, true], [deny, false]]) {
          b.addEventListener('click', () => {
            admit.disabled = deny.disabled = true;
            this.decide(w.peer, allow);
          });
        }
        li.append(admit, deny);
        return li;
      }),
    );
    this.ul.hidden = list.length === 0;
  }
}
