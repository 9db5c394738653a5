// socketio.js: the socket.io 4 chat tutorial server, as chat-bench's peer.
//
//   node socketio.js [PORT]              (or PORT in the environment; 3000)
//   REDIS_URL=redis://127.0.0.1:6379 node socketio.js 3001
//
// Every "chat message" a client emits goes to every connected client,
// the sender included (io.emit), exactly as in the tutorial. With REDIS_URL
// set, the @socket.io/redis-adapter fans the broadcast out over Redis
// pub/sub, so several of these processes act as one server. It listens on
// 127.0.0.1 only and serves no page: chat-bench talks Engine.IO v4 over the
// websocket transport directly (GET /socket.io/?EIO=4&transport=websocket).
'use strict';

const http = require('http');
const { Server } = require('socket.io');

const port = Number(process.argv[2] || process.env.PORT || 3000);
const redisUrl = process.env.REDIS_URL || '';

async function main() {
  const server = http.createServer((req, res) => {
    res.writeHead(404).end();
  });
  const io = new Server(server);
  if (redisUrl) {
    const { createClient } = require('redis');
    const { createAdapter } = require('@socket.io/redis-adapter');
    const pub = createClient({ url: redisUrl });
    const sub = pub.duplicate();
    await Promise.all([pub.connect(), sub.connect()]);
    io.adapter(createAdapter(pub, sub));
  }
  io.on('connection', (socket) => {
    socket.on('chat message', (msg) => {
      io.emit('chat message', msg);
    });
  });
  server.listen(port, '127.0.0.1', () => {
    console.error(`socketio peer listening on 127.0.0.1:${port}${redisUrl ? ' (redis adapter)' : ''}`);
  });
  const stop = () => {
    io.close();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
