// Server-only: the engine, the Logto client and the Guestmode helpers, made once per process.
import { createGuestmodeNext, type GuestmodeNext } from '@guestmode/next';
import LogtoClient from '@logto/next';
import { configFromEnv, oncePerProcess, openBookstoreEngine } from './setup';

export interface Bookstore {
  readonly logtoClient: LogtoClient;
  readonly guestmode: GuestmodeNext;
}

export function bookstore(): Bookstore {
  return oncePerProcess('@guestmode/example-bookstore-next', () => {
    const config = configFromEnv();
    const logtoClient = new LogtoClient(config.logto);
    return {
      logtoClient,
      guestmode: createGuestmodeNext({
        guestmode: openBookstoreEngine(config),
        logtoClient,
        logto: config.logto,
        confirm: 'on-conflict',
        confirmPath: '/merge',
      }),
    };
  });
}
