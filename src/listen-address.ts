/** `:9877`, `127.0.0.1:9877`, `[::1]:9877`, `localhost:9877`; no host means "the caller's default". */
export function parseListenAddress(address: string): { host?: string; port: number } {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([A-Za-z0-9_.-]*)):(\d{1,5})$/.exec(address);
  const port = match ? Number(match[3]) : NaN;
  if (!match || port > 65535) {
    throw new Error(`invalid listen address ${JSON.stringify(address)}: want [host]:port, e.g. :9877 or 127.0.0.1:9877`);
  }
  const host = match[1] ?? match[2];
  return host ? { host, port } : { port };
}
