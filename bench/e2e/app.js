// A minimal express-session app on connect-redis 9 (node-redis 5), for
// bench/e2e/main.go to drive with autocannon:
//
//   GET /     reads the session: with a cookie, connect-redis GETs it and,
//             since it is unchanged, touches it (EXPIRE);
//   GET /inc  increments a counter in the session: GET, then SET ... EX.
//             Without a cookie every request creates a new session (SET).
//
// Environment: REDIS_URL (redis://127.0.0.1:6379 or unix:///path), PORT.
// It prints "listening PORT" once it serves.
import express from 'express';
import session from 'express-session';
import { RedisStore } from 'connect-redis';
import { createClient } from 'redis';

const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const port = Number(process.env.PORT ?? 3000);

const client = url.startsWith('unix://')
  ? createClient({ socket: { path: url.slice('unix://'.length) } })
  : createClient({ url });
client.on('error', (err) => console.error('store client error:', err.message));
await client.connect();

const app = express();
app.disable('x-powered-by');
app.use(session({
  store: new RedisStore({ client, prefix: 'sess:' }),
  secret: 'bench-e2e-not-a-secret',
  resave: false,
  saveUninitialized: false,
  cookie: { maxAge: 24 * 60 * 60 * 1000 },
}));

app.get('/', (req, res) => {
  res.type('text/plain').send(String(req.session.n ?? 0));
});

app.get('/inc', (req, res) => {
  req.session.n = (req.session.n ?? 0) + 1;
  res.type('text/plain').send(String(req.session.n));
});

// A store error must show up as a non-2xx response, which the driver
// counts, not as a hang.
app.use((err, req, res, next) => {
  console.error('request error:', err.message);
  res.status(500).type('text/plain').send('store error\n');
});

app.listen(port, '127.0.0.1', () => console.log(`listening ${port}`));

// A benchmark app has nothing to drain: exit at once, even if the store
// is already gone (a graceful quit would wait for it to reconnect).
process.on('SIGTERM', () => process.exit(0));
process.on('SIGINT', () => process.exit(0));
