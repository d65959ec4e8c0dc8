// Test app of the local node (issue 7): answers every request with the pod's name, and logs one
// line per request so `kubectl logs` has something to show. Plain Node, no dependencies.
'use strict';
const http = require('node:http');
const os = require('node:os');

const name = process.env.POD_NAME || os.hostname();
const port = Number(process.env.PORT || 8080);

http
  .createServer((req, res) => {
    console.log(
      `${new Date().toISOString()} ${req.method} ${req.url} from ${req.socket.remoteAddress}`,
    );
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end(`${name}\n`);
  })
  .listen(port, () => console.log(`echo ${name} listening on ${port}`));

process.on('SIGTERM', () => process.exit(0));
