// systemd notification through the sd-notify package, loaded only when
// NOTIFY_SOCKET is set: outside systemd every call is a no-op.

interface SdNotify {
  ready(): void;
  stopping(pid?: number): void;
  watchdog(): void;
  sendStatus(text: string): void;
}

let sd: SdNotify | null | undefined;

function lib(): SdNotify | null {
  if (sd === undefined) sd = process.env.NOTIFY_SOCKET ? (require('sd-notify') as SdNotify) : null;
  return sd;
}

export const notifyReady = () => lib()?.ready();
export const notifyStopping = () => lib()?.stopping(process.pid);
export const notifyWatchdog = () => lib()?.watchdog();
export const notifyStatus = (text: string) => lib()?.sendStatus(text);

/** Half of WATCHDOG_USEC in ms, if systemd asked for watchdog pings for this process. */
export function watchdogIntervalMs(): number | undefined {
  const usec = Number(process.env.WATCHDOG_USEC);
  if (!Number.isFinite(usec) || usec <= 0) return undefined;
  const pid = process.env.WATCHDOG_PID;
  if (pid && Number(pid) !== process.pid) return undefined;
  return Math.max(1, Math.floor(usec / 2000));
}

export const underSystemd = () => !!(process.env.NOTIFY_SOCKET || process.env.INVOCATION_ID);
