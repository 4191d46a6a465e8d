import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { extname, join } from 'node:path';
// A static server for the lab's page, with manofwar's own Content-Security-Policy (argv[3]).
const ROOT = process.argv[4];
const CSP = process.argv[3];
const types = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.m3u8': 'application/vnd.apple.mpegurl', '.ts': 'video/mp2t' };
createServer(async (req, res) => {
  const path = join(ROOT, new URL(req.url, 'http://x').pathname);
  try {
    const body = await readFile(path);
    res.writeHead(200, { 'content-type': types[extname(path)] || 'application/octet-stream', 'content-security-policy': CSP });
    res.end(body);
  } catch { res.writeHead(404); res.end(); }
}).listen(Number(process.argv[2]));
