import fs from 'node:fs';
import path from 'node:path';

// Its own module so the umbrella's --version loads nothing else. Two levels
// below dist/ wherever this code sits: dist/src/cli/ built, and bundled into
// an executable in the same directory.

/** The version package.json gives: one place, beside the code wherever it is installed. */
export const VERSION: string = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', '..', 'package.json'), 'utf8')).version;
