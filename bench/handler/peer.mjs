// The JavaScript peer (bench/peer-worker/), behind the handler benchmark's repeat loop
// (loop.mjs). Every other request reaches the peer unchanged.
import peer from '../peer-worker/index.mjs';
import { withBenchLoop } from './loop.mjs';

export default {
  fetch(req, env, ctx) {
    return withBenchLoop((r) => peer.fetch(r, env, ctx))(req);
  },
};
