// Dial a manofwar gateway with js-libp2p, with the identity key in KEY_FILE (libp2p's protobuf
// encoding, as `manofwar identity` writes it): run identify and ping, print the outcome as JSON.
//   node --import ./polyfill.mjs dial.mjs KEY_FILE MULTIADDR
import { readFileSync } from 'node:fs';
import { createLibp2p } from 'libp2p';
import { tcp } from '@libp2p/tcp';
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import { identify } from '@libp2p/identify';
import { ping } from '@libp2p/ping';
import { privateKeyFromProtobuf } from '@libp2p/crypto/keys';
import { multiaddr } from '@multiformats/multiaddr';

const [keyFile, target] = process.argv.slice(2);
const node = await createLibp2p({
  privateKey: privateKeyFromProtobuf(readFileSync(keyFile)),
  transports: [tcp()],
  connectionEncrypters: [noise()],
  streamMuxers: [yamux()],
  services: { identify: identify(), ping: ping() },
});
const result = { peerId: node.peerId.toString() };
const identified = new Promise((resolve) => node.addEventListener('peer:identify', (e) => resolve(e.detail)));
try {
  const address = multiaddr(target);
  await node.dial(address, { signal: AbortSignal.timeout(10_000) });
  const info = await Promise.race([identified, new Promise((_, reject) => setTimeout(() => reject(new Error('no identify within 10 s')), 10_000))]);
  result.agentVersion = info.agentVersion;
  result.protocols = info.protocols;
  result.rttMs = await node.services.ping.ping(address, { signal: AbortSignal.timeout(10_000) });
  result.ok = true;
} catch (error) {
  result.ok = false;
  result.error = String(error?.message ?? error);
}
console.log(JSON.stringify(result));
await node.stop();
process.exit(result.ok ? 0 : 3);
