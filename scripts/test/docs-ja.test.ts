// The Japanese documentation keeps the English outline, code and links (see docs-ja.ts), and the
// check itself catches a missing section, changed code, a missing link back and a broken link.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { anchors, checkPair, findPairs, outline } from './docs-ja.ts';

const REPO = resolve(fileURLToPath(new URL('../..', import.meta.url)));

describe('Japanese documentation', () => {
  const { pairs, unpaired } = findPairs(REPO);
  for (const pair of pairs) {
    test(`${pair.japanese} follows ${pair.english}`, () => {
      const problems = checkPair(REPO, pair);
      assert.equal(problems.length, 0, `\n${problems.join('\n')}`);
    });
  }
  for (const pair of unpaired) {
    test(`${pair.japanese} is checked once ${pair.english} exists`, { skip: true }, () => {});
  }
});

describe('the documentation check', () => {
  const root = mkdtempSync(join(tmpdir(), 'guestmode-docs-ja-'));
  after(() => rmSync(root, { recursive: true, force: true }));
  const write = (path: string, text: string) => {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  };
  const fence = '```';
  const english = [
    '# Thing',
    '',
    '日本語: [ja/thing.md](ja/thing.md)',
    '',
    '## Set-up',
    '',
    `${fence}sh`,
    '# not a heading',
    'npm start   # starts the demo',
    fence,
    '',
    '## Merge recovery',
    '',
    'Call `retryMerge()`.',
    '',
    '### Retries',
    '',
    '## Limits',
    '',
    'Past it: `429 rate_limited`.',
    '',
  ].join('\n');
  const pair = { english: 'docs/thing.md', japanese: 'docs/ja/thing.md' };

  test('a page in step passes', () => {
    write(pair.english, english);
    write(
      pair.japanese,
      [
        '# もの',
        '',
        'English: [../thing.md](../thing.md)',
        '',
        '## セットアップ',
        '',
        `${fence}sh`,
        '# 見出しではありません',
        'npm start   # デモを起動します',
        fence,
        '',
        '## マージの回復',
        '',
        '`retryMerge()` を呼びます。',
        '',
        '### 再試行',
        '',
        '## 制限',
        '',
        '超えると `429 rate_limited` です。',
        '[制限](#制限)、[セットアップ](../thing.md#set-up)、[表](../../README.md)',
      ].join('\n'),
    );
    write('README.md', '# Readme\n');
    assert.deepEqual(checkPair(root, pair), []);
  });

  test('a section added in English is named by its English heading and its place', () => {
    write(
      pair.japanese,
      [
        '# もの',
        '',
        'English: [../thing.md](../thing.md)',
        '',
        '## セットアップ',
        '',
        `${fence}sh`,
        'npm start',
        fence,
        '',
        '## 制限',
        '',
        '超えると `429 rate_limited` です。',
      ].join('\n'),
    );
    const problems = checkPair(root, pair);
    assert.deepEqual(problems, [
      'docs/ja/thing.md does not follow docs/thing.md (English: 5 headings, Japanese: 3):\n' +
        '  - missing in Japanese: "## Merge recovery" (docs/thing.md:12, 0 code blocks); ' +
        'translate it after "## セットアップ" (docs/ja/thing.md:5, 1 code block)\n' +
        '  - missing in Japanese: "### Retries" (docs/thing.md:16, 0 code blocks); ' +
        'translate it after "## セットアップ" (docs/ja/thing.md:5, 1 code block)',
    ]);
  });

  test('a code change in English is reported, a translated comment is not', () => {
    const japanese = (command: string) =>
      [
        '# もの',
        '',
        'English: [../thing.md](../thing.md)',
        '',
        '## セットアップ',
        '',
        `${fence}sh`,
        `${command}   # デモを起動します`,
        fence,
        '',
        '## マージの回復',
        '',
        '`retryMerge()` を呼びます。',
        '',
        '### 再試行',
        '',
        '## 制限',
        '',
        '超えると `429 rate_limited` です。',
      ].join('\n');
    write(pair.japanese, japanese('npm start'));
    assert.deepEqual(checkPair(root, pair), []);
    write(pair.japanese, japanese('npm run start:next'));
    assert.deepEqual(checkPair(root, pair), [
      'docs/ja/thing.md does not follow docs/thing.md (English: 5 headings, Japanese: 5):\n' +
        '  - code block 1 of English "## Set-up" (docs/thing.md:5, 1 code block) is not the one ' +
        'under Japanese "## セットアップ" (docs/ja/thing.md:5, 1 code block): first difference at ' +
        'code "npm start"',
    ]);
  });

  test('a heading only in Japanese, or a level changed, is reported', () => {
    write(
      pair.japanese,
      [
        '# もの',
        '',
        'English: [../thing.md](../thing.md)',
        '',
        '## セットアップ',
        '',
        `${fence}sh`,
        'npm start',
        fence,
        '',
        '## マージの回復',
        '',
        '`retryMerge()` を呼びます。',
        '',
        '#### 再試行',
        '',
        '## 制限',
        '',
        '超えると `429 rate_limited` です。',
      ].join('\n'),
    );
    const [problem] = checkPair(root, pair);
    assert.match(problem!, /- missing in Japanese: "### Retries" \(docs\/thing\.md:16/);
    assert.match(problem!, /- not in English: "#### 再試行" \(docs\/ja\/thing\.md:15/);
  });

  test('a missing code block, missing links back and broken links are reported', () => {
    write(pair.english, english.replace('日本語: [ja/thing.md](ja/thing.md)', 'Intro.'));
    write(
      pair.japanese,
      [
        '# もの',
        '',
        '## セットアップ',
        '',
        '## マージの回復',
        '',
        '### 再試行',
        '',
        '## 制限',
        '',
        '[なし](missing.md)、[見出し](../thing.md#nowhere)、`[コード](ignored.md)`',
        '',
      ].join('\n'),
    );
    const problems = checkPair(root, pair);
    assert.equal(problems.length, 5, problems.join('\n'));
    assert.match(
      problems[0]!,
      /- code blocks differ: English "## Set-up" \(docs\/thing\.md:5, 1 code block\), Japanese "## セットアップ" \(docs\/ja\/thing\.md:3, 0 code blocks\)/,
    );
    assert.match(problems[1]!, /^docs\/thing\.md: no link to the Japanese page at the top/);
    assert.match(problems[2]!, /^docs\/ja\/thing\.md: no link to the English page at the top/);
    assert.match(
      problems[3]!,
      /^docs\/ja\/thing\.md:11: link "missing\.md" points at docs\/ja\/missing\.md, which does not exist/,
    );
    assert.match(
      problems[4]!,
      /^docs\/ja\/thing\.md:11: link "\.\.\/thing\.md#nowhere": docs\/thing\.md has no heading with anchor #nowhere/,
    );
  });

  test('a missing page is reported, and unpaired Japanese pages wait for their English page', () => {
    assert.deepEqual(checkPair(root, { english: 'docs/thing.md', japanese: 'docs/ja/none.md' }), [
      'docs/ja/none.md does not exist',
    ]);
    write('docs/ja/later.md', '# 後で\n');
    const { pairs, unpaired } = findPairs(root);
    assert.deepEqual(unpaired, [{ english: 'docs/later.md', japanese: 'docs/ja/later.md' }]);
    assert.ok(pairs.some((p) => p.japanese === 'docs/ja/thing.md'));
  });

  test('anchors follow GitHub: punctuation dropped, any script kept, repeats numbered', () => {
    const { headings } = outline(
      '# A\n## The `req.guest` object\n## 環境変数（一覧）\n## Limits\n## Limits\n',
    );
    assert.deepEqual(
      [...anchors(headings)],
      ['a', 'the-reqguest-object', '環境変数一覧', 'limits', 'limits-1'],
    );
  });
});
