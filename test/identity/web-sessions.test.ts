import { describe } from 'vitest';
import { createDatabaseSessionStore } from '../../src/identity/index.js';
import { useTestDatabase } from '../support/databases.js';
import { webSessionsSuite } from './web-sessions.suite.js';

describe('web sessions in the database (PGlite, or PostgreSQL with TEST_DATABASE_URL)', () => {
  const fresh = useTestDatabase();
  webSessionsSuite(fresh, async () => ({
    sweeps: true,
    store: () => createDatabaseSessionStore({ db: fresh.db.database.db }),
    teardown: async () => undefined,
  }));
});
