/* global document, requestAnimationFrame, setTimeout */

/**
 * Coalesces render requests into one call per animation frame, at most one every `minIntervalMs`: a burst of
 * 1,000 registry events costs a handful of renders, and the page never renders more often than it can paint.
 *
 * @param {(parts: Set<string>) => void} render
 * @param {number} [minIntervalMs]
 * @returns {(part: string) => void}
 */
export function createScheduler(render, minIntervalMs = 100) {
  const dirty = new Set();
  let pending = false;
  let last = -Infinity;
  const frame = (now) => {
    if (now - last < minIntervalMs) {
      setTimeout(() => requestAnimationFrame(frame), minIntervalMs - (now - last));
      return;
    }
    last = now;
    pending = false;
    const parts = new Set(dirty);
    dirty.clear();
    render(parts);
  };
  return function schedule(part) {
    dirty.add(part);
    if (pending) return;
    pending = true;
    requestAnimationFrame(frame);
  };
}

/**
 * A table body kept in step with a list by key: a row is created once, a cell is written only when its text or
 * class changed, rows follow the list's order and rows whose key left the list are removed. The DOM work is
 * proportional to what changed, not to the number of rows.
 */
export class KeyedRows {
  /**
   * @param {HTMLTableSectionElement} tbody
   * @param {number} columns
   * @param {{ onClick?: (key: string) => void, numeric?: number[] }} [options]
   */
  constructor(tbody, columns, options = {}) {
    this.tbody = tbody;
    this.columns = columns;
    this.onClick = options.onClick;
    this.numeric = new Set(options.numeric ?? []);
    /** @type {Map<string, { tr: HTMLTableRowElement, cells: HTMLTableCellElement[], texts: string[], classes: string[], seen: number }>} */
    this.rows = new Map();
    this.generation = 0;
    this.selected = undefined;
  }

  /**
   * @template T
   * @param {Iterable<T>} items
   * @param {(item: T) => string} keyOf
   * @param {(item: T) => Array<string | [string, string]>} cellsOf  text, or [text, className]
   */
  update(items, keyOf, cellsOf) {
    const generation = ++this.generation;
    let next = this.tbody.firstChild;
    for (const item of items) {
      const key = keyOf(item);
      let row = this.rows.get(key);
      if (row === undefined) {
        row = this.#create(key);
        this.rows.set(key, row);
      }
      row.seen = generation;
      const cells = cellsOf(item);
      for (let i = 0; i < this.columns; i++) {
        const cell = cells[i] ?? '';
        const text = typeof cell === 'string' ? cell : cell[0];
        const className = typeof cell === 'string' ? '' : cell[1];
        if (row.texts[i] !== text) {
          row.cells[i].textContent = text;
          row.texts[i] = text;
        }
        if (row.classes[i] !== className) {
          row.cells[i].className = this.numeric.has(i) ? `num ${className}` : className;
          row.classes[i] = className;
        }
      }
      if (row.tr !== next) this.tbody.insertBefore(row.tr, next);
      else next = next.nextSibling;
    }
    for (const [key, row] of this.rows) {
      if (row.seen === generation) continue;
      row.tr.remove();
      this.rows.delete(key);
    }
  }

  /** Marks the row of `key` as selected (and only that one). */
  select(key) {
    if (this.selected !== undefined) this.rows.get(this.selected)?.tr.classList.remove('selected');
    this.selected = key;
    if (key !== undefined) this.rows.get(key)?.tr.classList.add('selected');
  }

  #create(key) {
    const tr = document.createElement('tr');
    tr.dataset.key = key;
    const cells = [];
    for (let i = 0; i < this.columns; i++) {
      const td = document.createElement('td');
      if (this.numeric.has(i)) td.className = 'num';
      tr.append(td);
      cells.push(td);
    }
    if (this.onClick !== undefined) {
      tr.classList.add('clickable');
      tr.tabIndex = 0;
      const onClick = this.onClick;
      tr.addEventListener('click', () => onClick(key));
      tr.addEventListener('keydown', (event) => {
        if (event.key === 'Enter') onClick(key);
      });
    }
    if (key === this.selected) tr.classList.add('selected');
    return { tr, cells, texts: [], classes: [], seen: 0 };
  }
}

/** Replaces an element's text only when it changed (a write forces style work even when equal). */
export function setText(element, text) {
  if (element.textContent !== text) element.textContent = text;
}

export function formatRate(value) {
  return value >= 100 ? value.toFixed(0) : value.toFixed(1);
}

export function formatPercent(share) {
  return `${(share * 100).toFixed(share > 0 && share < 0.01 ? 2 : 1)}%`;
}

export function formatMs(ms) {
  if (ms === null || ms === undefined) return '–';
  return ms >= 100 ? ms.toFixed(0) : ms.toFixed(1);
}

/** `in 12s`, `in 3m`, `expired` for a lease end in epoch ms. */
export function formatLease(expiresAt, now) {
  if (expiresAt === undefined) return '–';
  const seconds = Math.round((expiresAt - now) / 1000);
  if (seconds <= 0) return 'expired';
  return seconds < 120 ? `in ${seconds}s` : `in ${Math.round(seconds / 60)}m`;
}

/** A class for an error share: over 5% is bad, over 1% a warning. */
export function errorClass(share) {
  return share > 0.05 ? 'bad' : share > 0.01 ? 'warn' : '';
}
