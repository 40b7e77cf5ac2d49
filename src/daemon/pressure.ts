import fs from 'node:fs';

export const PSI_IO = '/proc/pressure/io';

/** The "some avg10" share (percent) of time tasks stalled on I/O, or undefined where PSI is absent. */
export function ioPressureSome10(file = process.env.DFS_PSI_IO_FILE || PSI_IO): number | undefined {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  const m = /^some\s.*?avg10=([\d.]+)/m.exec(text);
  return m ? Number(m[1]) : undefined;
}
