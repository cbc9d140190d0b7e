import { createServer } from 'node:net';

/**
 * A free loopback port, for a server whose address must be known before it starts (a public URL
 * registered at the OpenID provider, nginx's configuration). Another process could take it in
 * between; on loopback in a test run that has not been seen.
 */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}
