// Module resolution hooks (node:module register) that send the specifiers a
// k6 script imports to this runner's own modules. The jslib.k6.io URLs are
// mapped by exact version: an unknown library or version is refused by name
// rather than guessed at.
const SHIMS = {
  'k6': './lib/k6.mjs',
  'k6/http': './lib/http.mjs',
  'https://jslib.k6.io/expect/0.0.5/index.js': './lib/expect.mjs',
  'https://jslib.k6.io/httpx/0.1.0/index.js': './lib/httpx.mjs',
};

export async function resolve(specifier, context, next) {
  if (Object.hasOwn(SHIMS, specifier)) {
    return { url: new URL(SHIMS[specifier], import.meta.url).href, shortCircuit: true };
  }
  if (specifier.startsWith('k6/') || specifier.startsWith('http://') || specifier.startsWith('https://')) {
    throw new Error(`this runner has no module for ${JSON.stringify(specifier)} ` +
      `(it provides: ${Object.keys(SHIMS).join(', ')})`);
  }
  return next(specifier, context);
}
