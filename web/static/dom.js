// Small DOM helpers shared by the page's views.

const CONFIRM_MS = 4000;

/** Returns a new element of tag with an optional class and text. */
export function element(tag, className, text) {
  const el = document.createElement(tag);
  if (className) el.className = className;
  if (text !== undefined) el.textContent = text;
  return el;
}

/** Returns a new type="button" button with a class and text. */
export function button(className, text) {
  const b = element('button', className, text);
  b.type = 'button';
  return b;
}

/**
 * Reports whether a click on a destructive button b (labelled label) is confirmed: the first
 * click arms it ("Click again to confirm") and returns false, a second one within a few
 * seconds returns true. Headless browsers and tests have no confirm() dialog to answer.
 */
export function confirmed(b, label) {
  if (b.dataset.confirm === 'true') {
    delete b.dataset.confirm;
    b.textContent = label;
    return true;
  }
  b.dataset.confirm = 'true';
  b.textContent = 'Click again to confirm';
  setTimeout(() => {
    if (b.dataset.confirm !== 'true') return;
    delete b.dataset.confirm;
    b.textContent = label;
  }, CONFIRM_MS);
  return false;
}
