// A test-only HTTP server for the runner's own tests. It runs in a child
// process because the runner's synchronous requests block the thread that
// makes them. It prints "listening PORT" once it is ready.
import http from 'node:http';

const successPage = `<!DOCTYPE html>
<html><head><title>done</title><style>div { color: red }</style></head>
<body>
  <svg style="display:none"><symbol id="i"><path d="M0"/></symbol></svg>
  <div class="box" role="alert">
    <svg width="1"><use href="#i"/></svg>
    <div align="center"><strong>Done!</strong> It worked &amp; all is well.</div>
  </div>
  <!-- <div><div>commented out</div></div> -->
  <p id="x" data-k="v">para</p>
</body></html>`;

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const url = new URL(req.url, 'http://fixture');
    const body = Buffer.concat(chunks).toString('utf8');
    const send = (status, type, text, extra = {}) => {
      res.writeHead(status, { 'content-type': type, 'x-multi': ['a', 'b'], ...extra });
      res.end(text);
    };
    switch (url.pathname) {
      case '/echo':
        send(200, 'application/json', JSON.stringify({
          method: req.method, url: req.url, headers: req.headers, body, hadBody: chunks.length > 0,
        }));
        break;
      case '/json':
        send(200, 'application/json', JSON.stringify({
          email: { address: 'a@b.c', verified: true, verificationToken: null },
          list: [1, 2, { c: 'x' }],
          'dot.key': 7,
          password: 'a-hash',
          n: 0,
        }));
        break;
      case '/html':
        send(200, 'text/html; charset=utf-8', successPage);
        break;
      case '/text':
        send(Number(url.searchParams.get('status') || 200), 'text/plain', url.searchParams.get('body') || 'plain text');
        break;
      case '/redirect':
        res.writeHead(Number(url.searchParams.get('code') || 303), { location: url.searchParams.get('to') || '/html' });
        res.end('<a href="/html">See Other</a>.');
        break;
      case '/loop':
        res.writeHead(302, { location: '/loop' });
        res.end();
        break;
      case '/slow':
        setTimeout(() => send(200, 'text/plain', 'late'), Number(url.searchParams.get('ms') || 300));
        break;
      default:
        send(404, 'application/json', '{"code":404,"message":"HTTP 404 Not Found"}');
    }
  });
});

server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`listening ${server.address().port}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
