// The ceiling: hello world JSON on Fastify 5, the service's HTTP stack, one process, logger off
// (as the Guestmode server runs in the bench). Plain JavaScript so that no loader runs in it.
import Fastify from 'fastify';

const app = Fastify({ logger: false });
app.get('/', async () => ({ hello: 'world' }));
await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT) });
process.on('SIGTERM', () => {
  app.close().then(() => process.exit(0));
});
