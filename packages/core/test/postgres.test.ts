import { after } from 'node:test';
import { runStorageConformance } from '@guestmode/core/conformance';
import { openPostgresStorage } from '@guestmode/core/postgres';
import { createTestDatabase, type TestDatabase } from '@guestmode/testkit';

let database: TestDatabase | undefined;
after(async () => {
  await database?.drop();
});

runStorageConformance('postgres', async () => {
  database = await createTestDatabase();
  return openPostgresStorage({ database: database.url });
});
