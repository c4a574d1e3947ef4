// Server-only: the engine and the Guestmode helpers, made once per process.
import {
  configFromEnv,
  oncePerProcess,
  openBookstoreEngine,
} from '@guestmode/example-bookstore-next/setup';
import { createGuestmodeApp, type GuestmodeApp } from '@guestmode/next/app';

export function bookstore(): GuestmodeApp {
  return oncePerProcess('@guestmode/example-bookstore-next-app', () => {
    const config = configFromEnv();
    return createGuestmodeApp({
      guestmode: openBookstoreEngine(config),
      logto: config.logto,
      confirm: 'on-conflict',
      confirmPath: '/merge',
    });
  });
}
