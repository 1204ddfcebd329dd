// Prints, one KEY=VALUE a line, the environment a suite's Thunder container
// gets from its docker-compose.yml: the thunder service's `environment`, and
// the secrets its local Secrets Manager serves (SECRETSMANAGER_SECRETS,
// "NAME:value,..."), which Thunder substitutes for ${NAME} in config.yaml.
// run.sh passes them to usher, whose --thunder-config substitutes ${NAME}
// from the environment. It reads the plain YAML those files use (maps and
// lists by indentation), not YAML in general.
//   node compose-env.mjs docker-compose.yml
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

function unquote(v) {
  v = v.trim();
  if ((v.startsWith('"') && v.endsWith('"')) || (v.startsWith("'") && v.endsWith("'"))) return v.slice(1, -1);
  return v;
}

// environments answers {service: {KEY: value}}.
export function environments(text) {
  const out = {};
  const stack = []; // {indent, key}
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\s+#.*$/, '');
    if (!line.trim() || line.trim().startsWith('#')) continue;
    const indent = line.length - line.trimStart().length;
    while (stack.length && stack[stack.length - 1].indent >= indent) stack.pop();
    const item = line.trim();
    const keys = stack.map((s) => s.key);
    const inEnv = keys.length === 3 && keys[0] === 'services' && keys[2] === 'environment';
    if (inEnv) {
      const env = (out[keys[1]] ||= {});
      const m = item.startsWith('- ') ? /^-\s*([^=]+)=(.*)$/.exec(item) : /^([^:]+):(.*)$/.exec(item);
      if (m) env[m[1].trim()] = unquote(m[2]);
      continue;
    }
    const m = /^([^:-][^:]*):(.*)$/.exec(item);
    if (m) stack.push({ indent, key: m[1].trim() });
  }
  return out;
}

export function thunderEnvironment(text) {
  const envs = environments(text);
  const result = { ...(envs.thunder || {}) };
  for (const env of Object.values(envs)) {
    for (const pair of (env.SECRETSMANAGER_SECRETS || '').split(',')) {
      const i = pair.indexOf(':');
      if (i > 0) result[pair.slice(0, i).trim()] = pair.slice(i + 1);
    }
  }
  return result;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const env = thunderEnvironment(readFileSync(process.argv[2], 'utf8'));
  for (const [k, v] of Object.entries(env)) {
    if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(k) && !v.includes('\n')) process.stdout.write(`${k}=${v}\n`);
  }
}
