// Sluice's version, from its package.json (the CLI's --version and the bench report say it).
import { readFileSync } from 'node:fs';

export const SLUICE_VERSION: string = (
  JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
).version;
