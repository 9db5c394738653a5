// expressws.js: an express-ws broadcast server, as chat-bench's peer.
//
//   node expressws.js [PORT]             (or PORT in the environment; 3100)
//
// Every text frame a client sends on ws://127.0.0.1:PORT/ is sent to every
// connected client, the sender included. Listens on 127.0.0.1 only.
'use strict';

const express = require('express');
const expressWs = require('express-ws');

const port = Number(process.argv[2] || process.env.PORT || 3100);
const app = express();
const wsApp = expressWs(app);
const wss = wsApp.getWss();

app.ws('/', (ws) => {
  // ws 7 (express-ws's) hands text frames over as strings, binary as Buffers.
  ws.on('message', (data) => {
    if (typeof data !== 'string') return;
    const text = data;
    for (const client of wss.clients) {
      if (client.readyState === 1) client.send(text);
    }
  });
});

const server = app.listen(port, '127.0.0.1', () => {
  console.error(`expressws peer listening on 127.0.0.1:${port}`);
});
const stop = () => {
  server.close();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
