// For `node --import ./register.mjs script.js`: installs the k6 module hooks.
import { register } from 'node:module';

register('./hooks.mjs', import.meta.url);
