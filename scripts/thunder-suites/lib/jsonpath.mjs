// The subset of GJSON path syntax that k6's Response.json(selector) takes and
// that plain scripts use: keys separated by dots, array indexes, "#" for an
// array's length, and "\" escaping a dot or another special character.
// Wildcards, queries and modifiers are refused with a clear error rather than
// answered wrongly.

export function splitPath(path) {
  const parts = [];
  let cur = '';
  for (let i = 0; i < path.length; i++) {
    const ch = path[i];
    if (ch === '\\' && i + 1 < path.length) {
      cur += path[++i];
      continue;
    }
    if (ch === '*' || ch === '?' || ch === '|' || ch === '@' || (ch === '#' && (cur !== '' || i + 1 < path.length))) {
      throw new Error(`json selector ${JSON.stringify(path)}: "${ch}" (GJSON wildcards, queries and modifiers) is not supported by this runner`);
    }
    if (ch === '.') {
      parts.push(cur);
      cur = '';
      continue;
    }
    cur += ch;
  }
  parts.push(cur);
  return parts;
}

// select answers the value at path, or undefined when there is none, as k6
// answers for a selector that matches nothing.
export function select(value, path) {
  let v = value;
  for (const part of splitPath(path)) {
    if (Array.isArray(v)) {
      if (part === '#') {
        v = v.length;
      } else if (/^\d+$/.test(part) && Number(part) < v.length) {
        v = v[Number(part)];
      } else {
        return undefined;
      }
    } else if (v !== null && typeof v === 'object' && Object.prototype.hasOwnProperty.call(v, part)) {
      v = v[part];
    } else {
      return undefined;
    }
  }
  return v;
}
