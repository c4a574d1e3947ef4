import http from 'node:http';
import { closeServer, listen } from './http.js';

/** One request the receiver got, as sent: headers and the raw body. */
export interface ReceivedWebhook {
  readonly headers: Record<string, string>;
  readonly body: string;
  /** The status the receiver answered. */
  readonly status: number;
}

export interface WebhookReceiver {
  /** `http://127.0.0.1:<port>/hooks` */
  readonly url: string;
  /** Every request, in arrival order (failed answers included). */
  readonly requests: ReceivedWebhook[];
  /** The requests answered 2xx. */
  accepted(): ReceivedWebhook[];
  /** What to answer next (default 204); a receiver "down" answers 503. */
  status: number;
  close(): Promise<void>;
}

/**
 * A webhook endpoint for tests: records each request's headers and raw body (so a test can check
 * the signature over exactly the bytes sent) and answers `status`.
 */
export async function startWebhookReceiver(): Promise<WebhookReceiver> {
  const requests: ReceivedWebhook[] = [];
  const receiver = {
    url: '',
    requests,
    status: 204,
    accepted: () => requests.filter((r) => r.status >= 200 && r.status < 300),
    close: () => closeServer(server),
  };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const status = receiver.status;
      const headers: Record<string, string> = {};
      for (const [name, value] of Object.entries(req.headers)) {
        if (typeof value === 'string') headers[name] = value;
      }
      requests.push({ headers, body: Buffer.concat(chunks).toString('utf8'), status });
      res.statusCode = status;
      res.end();
    });
  });
  receiver.url = `${await listen(server)}/hooks`;
  return receiver;
}
