// A small HTML reader for Response.html(): enough of a tree and of CSS
// selectors (type, #id, .class, [attr], [attr=value], descendant and ">"
// combinators, "," lists) for scripts that read text out of a page. It is not
// a full HTML5 parser: it does not repair misnested markup beyond closing
// the elements an end tag skips.

const VOID = new Set(['area', 'base', 'br', 'col', 'embed', 'hr', 'img', 'input', 'link', 'meta', 'param', 'source', 'track', 'wbr']);
const RAW = new Set(['script', 'style', 'textarea', 'title']);

const ENTITIES = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: '\u00a0' };

function decode(text) {
  return text.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (m, e) => {
    if (e[0] === '#') {
      const n = e[1] === 'x' || e[1] === 'X' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10);
      return Number.isFinite(n) ? String.fromCodePoint(n) : m;
    }
    return ENTITIES[e.toLowerCase()] ?? m;
  });
}

function element(tag, attrs, parent) {
  return { type: 'element', tag, attrs, children: [], parent };
}

function parseAttrs(src) {
  const attrs = {};
  const re = /([^\s=/>]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+)))?/g;
  let m;
  while ((m = re.exec(src))) {
    attrs[m[1].toLowerCase()] = decode(m[2] ?? m[3] ?? m[4] ?? '');
  }
  return attrs;
}

export function parseHTML(src) {
  const root = element('#document', {}, null);
  let cur = root;
  let i = 0;
  const text = (t) => {
    if (t) cur.children.push({ type: 'text', text: decode(t), parent: cur });
  };
  while (i < src.length) {
    const lt = src.indexOf('<', i);
    if (lt < 0) {
      text(src.slice(i));
      break;
    }
    text(src.slice(i, lt));
    if (src.startsWith('<!--', lt)) {
      const end = src.indexOf('-->', lt + 4);
      i = end < 0 ? src.length : end + 3;
      continue;
    }
    if (src[lt + 1] === '!' || src[lt + 1] === '?') {
      const end = src.indexOf('>', lt);
      i = end < 0 ? src.length : end + 1;
      continue;
    }
    const m = /^<(\/?)([a-zA-Z][^\s/>]*)((?:[^>"']|"[^"]*"|'[^']*')*)>/.exec(src.slice(lt));
    if (!m) {
      text('<');
      i = lt + 1;
      continue;
    }
    i = lt + m[0].length;
    const tag = m[2].toLowerCase();
    if (m[1]) {
      // An end tag closes the nearest open element of its name and all
      // inside it; one with no open element of that name is ignored.
      for (let n = cur; n && n !== root; n = n.parent) {
        if (n.tag === tag) {
          cur = n.parent;
          break;
        }
      }
      continue;
    }
    const selfClosing = /\/\s*$/.test(m[3]);
    const el = element(tag, parseAttrs(m[3].replace(/\/\s*$/, '')), cur);
    cur.children.push(el);
    if (VOID.has(tag) || selfClosing) continue;
    if (RAW.has(tag)) {
      const close = src.toLowerCase().indexOf(`</${tag}`, i);
      const end = close < 0 ? src.length : close;
      if (end > i) el.children.push({ type: 'text', text: tag === 'title' || tag === 'textarea' ? decode(src.slice(i, end)) : src.slice(i, end), parent: el });
      const gt = close < 0 ? -1 : src.indexOf('>', close);
      i = gt < 0 ? src.length : gt + 1;
      continue;
    }
    cur = el;
  }
  return root;
}

// parseSelector turns "a > b.c, d" into a list of chains; each chain is a
// list of {combinator, compound} from left to right.
function parseSelector(sel) {
  return sel.split(',').map((part) => {
    const tokens = part.trim().replace(/\s*>\s*/g, ' > ').split(/\s+/).filter(Boolean);
    const chain = [];
    let comb = ' ';
    for (const tok of tokens) {
      if (tok === '>') {
        comb = '>';
        continue;
      }
      chain.push({ comb, compound: parseCompound(tok, sel) });
      comb = ' ';
    }
    if (chain.length === 0) throw new Error(`empty selector in ${JSON.stringify(sel)}`);
    return chain;
  });
}

function parseCompound(tok, sel) {
  const c = { tag: null, id: null, classes: [], attrs: [] };
  const re = /^([a-zA-Z][\w-]*|\*)?((?:#[\w-]+|\.[\w-]+|\[[^\]]+\])*)$/;
  const m = re.exec(tok);
  if (!m) throw new Error(`selector ${JSON.stringify(sel)}: ${JSON.stringify(tok)} is not supported by this runner`);
  if (m[1] && m[1] !== '*') c.tag = m[1].toLowerCase();
  for (const p of m[2].match(/#[\w-]+|\.[\w-]+|\[[^\]]+\]/g) || []) {
    if (p[0] === '#') c.id = p.slice(1);
    else if (p[0] === '.') c.classes.push(p.slice(1));
    else {
      const am = /^\[\s*([\w-]+)\s*(?:=\s*(?:"([^"]*)"|'([^']*)'|([^\]\s]*)))?\s*\]$/.exec(p);
      if (!am) throw new Error(`selector ${JSON.stringify(sel)}: ${p} is not supported by this runner`);
      c.attrs.push({ name: am[1].toLowerCase(), value: am[2] ?? am[3] ?? am[4] });
    }
  }
  return c;
}

function matchesCompound(el, c) {
  if (el.type !== 'element' || el.tag === '#document') return false;
  if (c.tag && el.tag !== c.tag) return false;
  if (c.id && el.attrs.id !== c.id) return false;
  const classes = (el.attrs.class || '').split(/\s+/);
  if (c.classes.some((k) => !classes.includes(k))) return false;
  return c.attrs.every((a) => (a.value === undefined ? a.name in el.attrs : el.attrs[a.name] === a.value));
}

// matchesChain checks el against the chain's last compound, then walks up
// the tree for the earlier ones.
function matchesChain(el, chain, idx = chain.length - 1) {
  if (!matchesCompound(el, chain[idx].compound)) return false;
  if (idx === 0) return true;
  if (chain[idx].comb === '>') return el.parent ? matchesChain(el.parent, chain, idx - 1) : false;
  for (let p = el.parent; p; p = p.parent) {
    if (matchesChain(p, chain, idx - 1)) return true;
  }
  return false;
}

function descendants(node, out = []) {
  for (const ch of node.children || []) {
    if (ch.type === 'element') {
      out.push(ch);
      descendants(ch, out);
    }
  }
  return out;
}

function textOf(node) {
  if (node.type === 'text') return node.text;
  return (node.children || []).map(textOf).join('');
}

// Selection is the part of k6's Selection API (goquery's) that text reading
// needs.
export class Selection {
  constructor(nodes) {
    this.nodes = nodes;
  }

  find(selector) {
    const chains = parseSelector(selector);
    const seen = new Set();
    const out = [];
    for (const n of this.nodes) {
      for (const d of descendants(n)) {
        if (!seen.has(d) && chains.some((ch) => matchesChain(d, ch))) {
          seen.add(d);
          out.push(d);
        }
      }
    }
    return new Selection(out);
  }

  // text joins the text of every selected element, as goquery's Text does.
  text() {
    return this.nodes.map(textOf).join('');
  }

  attr(name, def) {
    const n = this.nodes[0];
    if (!n || !(name.toLowerCase() in n.attrs)) return def;
    return n.attrs[name.toLowerCase()];
  }

  size() {
    return this.nodes.length;
  }

  first() {
    return new Selection(this.nodes.slice(0, 1));
  }

  eq(i) {
    const n = this.nodes.at(i);
    return new Selection(n ? [n] : []);
  }
}

export function parseDocument(src) {
  return new Selection([parseHTML(src)]);
}
