// Control hand-off (docs/PROTOCOL.md, 3.1 control): who drives the host when participants
// must ask for control. The owner sees the requests with Give control, Take back while someone
// holds control, and a switch that makes everyone ask; a participant who must ask sees
// Request control, or Release control while it holds it; everyone sees who has control.

import { button, element } from './dom.js';

/** Returns the valid fields of a control message: {holder, requests, on}. */
export function parseHandoff(m) {
  const who = (h) => (typeof h?.peer === 'string' && typeof h.name === 'string' ? { peer: h.peer, name: h.name } : null);
  return {
    holder: who(m?.holder),
    requests: (Array.isArray(m?.requests) ? m.requests : []).map(who).filter(Boolean).slice(0, 32),
    on: m?.on === true,
  };
}

/**
 * HandoffView keeps #handoff up to date: send(type, fields) sends a hand-off request;
 * announce(text) tells the owner of each new request; identity and readOnly come from the
 * session's info.
 */
export class HandoffView {
  constructor(el, send, announce) {
    this.el = el;
    this.send = send;
    this.announce = announce;
    this.info = { identity: null, readOnly: true };
    this.state = { holder: null, requests: [], on: false };
    this.me = { peer: '', askControl: false };
    this.requested = false;
    this.render();
  }

  setInfo(info) {
    this.info = info;
    this.render();
  }

  update(state, me) {
    if (this.info.identity?.role === 'owner') {
      for (const r of state.requests) {
        if (!this.state.requests.some((o) => o.peer === r.peer)) this.announce(`${r.name} asks for control`);
      }
    }
    this.state = state;
    this.me = me;
    if (state.holder?.peer === me.peer || !state.requests.some((r) => r.peer === me.peer)) this.requested = false;
    this.render();
  }

  render() {
    const { holder, requests, on } = this.state;
    const owner = this.info.identity?.role === 'owner';
    const mustAsk = !owner && !this.info.readOnly && (this.me.askControl || on);
    const parts = [];
    if (holder) parts.push(element('span', 'handoff-holder', holder.peer === this.me.peer ? 'You have control' : `${holder.name} has control`));
    if (owner) {
      const all = element('label', 'check handoff-all');
      const box = element('input');
      box.type = 'checkbox';
      box.id = 'handoff-all';
      box.checked = on;
      box.addEventListener('change', () => this.send('handoff', { on: box.checked }));
      all.append(box, ' Everyone asks for control');
      parts.push(all);
      for (const r of requests) {
        const li = element('span', 'handoff-request');
        li.dataset.name = r.name;
        const give = button('handoff-give', `Give control to ${r.name}`);
        give.addEventListener('click', () => this.send('give-control', { peer: r.peer }));
        li.append(give);
        parts.push(li);
      }
      if (holder) {
        const take = button('handoff-take', 'Take back control');
        take.addEventListener('click', () => this.send('take-control'));
        parts.push(take);
      }
    } else if (mustAsk && holder?.peer === this.me.peer) {
      const release = button('handoff-release', 'Release control');
      release.addEventListener('click', () => this.send('release-control'));
      parts.push(release);
    } else if (mustAsk) {
      const ask = button('handoff-request-button', this.requested ? 'Control requested…' : 'Request control');
      ask.disabled = this.requested;
      ask.addEventListener('click', () => {
        this.requested = true;
        this.send('request-control');
        this.render();
      });
      parts.push(ask);
    }
    this.el.replaceChildren(...parts);
    this.el.hidden = parts.length === 0 || (!owner && !mustAsk && !holder);
    this.el.dataset.holder = holder?.name ?? '';
    this.el.dataset.mustAsk = String(mustAsk);
  }
}
