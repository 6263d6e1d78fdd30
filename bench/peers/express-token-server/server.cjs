#!/usr/bin/env node
// The seed's Express token server (Express + livekit-server-sdk), made to read its JSON body:
//   POST /token {roomName, participantName} -> {"token": <jwt>}  (10-minute TTL, LiveKit grant)
// Usage: LIVEKIT_API_KEY=... LIVEKIT_API_SECRET=... node server.cjs [--port 18080] [--workers N]
// Binds 127.0.0.1 only. With --workers N > 1 it forks N processes (node:cluster), for a fair
// comparison against a server run with the same number of workers.
'use strict';
const cluster = require('node:cluster');

const option = (name, fallback) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : fallback;
};
const port = Number(option('--port', 18080));
const workers = Number(option('--workers', 1));

if (workers > 1 && cluster.isPrimary) {
  for (let i = 0; i < workers; i++) cluster.fork();
  const stop = () => {
    for (const w of Object.values(cluster.workers)) w.kill('SIGTERM');
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
} else {
  const express = require('express');
  const { AccessToken } = require('livekit-server-sdk');

  async function createToken(roomName, participantName) {
    const at = new AccessToken(process.env.LIVEKIT_API_KEY, process.env.LIVEKIT_API_SECRET, {
      identity: participantName,
      ttl: '10m',
    });
    at.addGrant({ roomJoin: true, room: roomName, canUpdateOwnMetadata: true });
    return at.toJwt();
  }

  const app = express();
  app.use(express.json());
  app.post('/token', async (req, res) => {
    const { roomName = 'demo-room', participantName = 'demo-user' } = req.body ?? {};
    res.json({ token: await createToken(roomName, participantName) });
  });
  app.listen(port, '127.0.0.1', () => console.log(`listening on 127.0.0.1:${port}`));
}
