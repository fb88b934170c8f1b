// The floor of the sidecar footprint bench: a bare node:http2 server on a unix socket, the least a
// gRPC server in Node loads. Answers every stream with an empty gRPC OK. Usage: bare-http2.js SOCKET
import { createServer } from 'node:http2';

createServer()
  .on('stream', (stream) => {
    stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
    stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
    stream.end();
  })
  .listen(process.argv[2]);
