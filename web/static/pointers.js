// Everyone's pointer (docs/PROTOCOL.md, 3.1 pointers): the other participants' pointers over
// the desktop, each a small arrow in its colour with its name; a switch hides them.

import { element } from './dom.js';

/** The pointer colours; the relay names one by its index. */
export const POINTER_COLORS = Object.freeze([
  '#e6194b', '#3cb44b', '#4363d8', '#f58231', '#911eb4', '#42d4f4',
  '#f032e6', '#9a6324', '#469990', '#800000', '#808000', '#000075',
]);
const MAX_POINTERS = 32;

/** Returns the valid pointers of a pointers message: [{peer, name, color, x, y}]. */
export function parsePointers(m) {
  const list = Array.isArray(m?.pointers) ? m.pointers : [];
  const n = (v) => Number.isSafeInteger(v) && v >= 0;
  return list
    .filter((p) => typeof p?.peer === 'string' && typeof p.name === 'string' && n(p.x) && n(p.y))
    .slice(0, MAX_POINTERS)
    .map((p) => ({ peer: p.peer, name: p.name, color: POINTER_COLORS[n(p.color) ? p.color % POINTER_COLORS.length : 0], x: p.x, y: p.y }));
}

/**
 * PointersView draws the others' pointers in layer (an element over the screen, positioned
 * like it) at the client position of their desktop coordinates on display's canvas; the
 * checkbox toggle shows or hides them all.
 */
export class PointersView {
  constructor(layer, display, toggle) {
    this.layer = layer;
    this.display = display;
    this.toggle = toggle;
    this.list = [];
    this.onToggle = () => this.render();
    toggle.addEventListener('change', this.onToggle);
    this.render();
  }

  update(list) {
    this.list = list;
    this.render();
  }

  render() {
    const shown = this.toggle.checked;
    this.layer.hidden = !shown || this.list.length === 0;
    if (this.layer.hidden) {
      this.layer.replaceChildren();
      return;
    }
    const c = this.display.canvas.getBoundingClientRect();
    const box = this.layer.getBoundingClientRect();
    const w = this.display.width || 1;
    const h = this.display.height || 1;
    this.layer.replaceChildren(
      ...this.list.map((p) => {
        const el = element('div', 'peer-pointer');
        el.dataset.peer = p.peer;
        el.dataset.name = p.name;
        el.dataset.x = String(p.x);
        el.dataset.y = String(p.y);
        el.style.left = `${c.left - box.left + ((p.x + 0.5) * c.width) / w}px`;
        el.style.top = `${c.top - box.top + ((p.y + 0.5) * c.height) / h}px`;
        el.style.setProperty('--color', p.color);
        el.append(element('span', 'peer-pointer-name', p.name));
        return el;
      }),
    );
  }

  close() {
    this.toggle.removeEventListener('change', this.onToggle);
    this.update([]);
  }
}
