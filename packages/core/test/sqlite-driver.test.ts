// The SQLite driver choice: better-sqlite3 13 crashes on Node.js 20 and 12 aborts the process on
// Node.js 24.19 and later, so the loader must never hand out either there, and must say what to
// install instead.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  chooseSqliteDriver,
  findSqliteDrivers,
  loadSqliteDriver,
} from '@guestmode/core/sqlite-driver';

const both = [
  { name: 'better-sqlite3', version: '13.2.0' },
  { name: 'better-sqlite3-node20', version: '12.11.1' },
];
const only12 = [{ name: 'better-sqlite3', version: '12.11.1' }];
const only13 = [{ name: 'better-sqlite3', version: '13.2.0' }];

describe('chooseSqliteDriver', () => {
  test('Node.js 20 takes the 12 build, wherever it is installed', () => {
    assert.deepEqual(chooseSqliteDriver('v20.20.2', both), { name: 'better-sqlite3-node20' });
    assert.deepEqual(chooseSqliteDriver('v20.20.2', only12), { name: 'better-sqlite3' });
  });

  test('Node.js 20 refuses 13 alone and names the alias to install', () => {
    const choice = chooseSqliteDriver('v20.20.2', only13);
    assert.ok('error' in choice);
    assert.match(choice.error, /does not run on Node\.js v20\.20\.2/);
    assert.match(choice.error, /better-sqlite3-node20@npm:better-sqlite3@\^12/);
  });

  test('Node.js 22 and 24 prefer 13', () => {
    for (const node of ['v22.22.0', 'v24.18.0', 'v24.22.3', 'v25.1.0']) {
      assert.deepEqual(chooseSqliteDriver(node, both), { name: 'better-sqlite3' }, node);
    }
  });

  test('12 alone is used before Node.js 24.19 and refused from it on', () => {
    assert.deepEqual(chooseSqliteDriver('v22.22.0', only12), { name: 'better-sqlite3' });
    assert.deepEqual(chooseSqliteDriver('v24.18.1', only12), { name: 'better-sqlite3' });
    for (const node of ['v24.19.0', 'v24.22.3', 'v25.0.0', 'v26.1.0']) {
      const choice = chooseSqliteDriver(node, only12);
      assert.ok('error' in choice, node);
      assert.match(choice.error, /aborts the process/);
      assert.match(choice.error, /npm install better-sqlite3@\^13\.2\.0/);
    }
    // The Node.js 20 alias alone is refused the same way.
    const alias = chooseSqliteDriver('v24.22.3', [both[1] as (typeof both)[number]]);
    assert.ok('error' in alias);
  });

  test('no driver at all says what to install for this Node.js', () => {
    const old = chooseSqliteDriver('v20.20.2', []);
    assert.ok('error' in old);
    assert.match(old.error, /No SQLite driver is installed.*better-sqlite3@\^12/);
    const current = chooseSqliteDriver('v24.22.3', []);
    assert.ok('error' in current);
    assert.match(current.error, /No SQLite driver is installed.*better-sqlite3@\^13/);
  });
});

describe('loadSqliteDriver', () => {
  test('loads the build chosen for the running Node.js, and it works', () => {
    const driver = loadSqliteDriver();
    const expected = chooseSqliteDriver(process.version, findSqliteDrivers());
    assert.ok('name' in expected);
    assert.equal(driver.name, expected.name);
    const major = Number.parseInt(driver.version, 10);
    if (Number.parseInt(process.versions.node, 10) < 22) assert.ok(major <= 12, driver.version);
    else assert.ok(major >= 13, driver.version);
    const db = new driver.Database(':memory:');
    try {
      assert.deepEqual(db.prepare('SELECT 1 + 1 AS two').get(), { two: 2 });
    } finally {
      db.close();
    }
    assert.equal(loadSqliteDriver(), driver);
  });
});
