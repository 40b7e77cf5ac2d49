// Things an operator should hear about that are not errors (a disk found at
// another mount point, a path recorded anew). The core says them here; each
// executable decides where they go (stderr, the daemon's log).

type Listener = (message: string) => void;

const listeners: Listener[] = [];

export function onNotice(fn: Listener): () => void {
  listeners.push(fn);
  return () => {
    const i = listeners.indexOf(fn);
    if (i >= 0) listeners.splice(i, 1);
  };
}

export function notice(message: string): void {
  for (const fn of listeners) fn(message);
}
