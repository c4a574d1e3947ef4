// The structure check that keeps the Japanese documentation in step with the English one. A
// translation may word things freely, but it keeps the English page's outline: the same heading
// levels in the same order, and the same fenced code blocks under each heading (the same code;
// comments may be translated). When an English section has no Japanese counterpart yet, or its code
// changed, the message names the English heading, so the person translating knows what to add.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

export interface Heading {
  level: number;
  text: string;
  line: number;
  /** Fenced code blocks between this heading and the next one. */
  fences: number;
  /** Their code without comments, which a translation may translate. */
  blocks: string[];
  /**
   * What a translation keeps verbatim in the section: inline code spans and code lines that are
   * not comments. Telling sections apart by these finds which one a translation lacks.
   */
  marks: Set<string>;
}

export interface Outline {
  /** Fenced code blocks before the first heading. */
  preambleFences: number;
  headings: Heading[];
  /** The page with fenced code blocks blanked out, line for line. */
  prose: string[];
}

/** One translated page: paths relative to the repository root. */
export interface DocPair {
  english: string;
  japanese: string;
}

const FENCE = /^ {0,3}(`{3,}|~{3,})/;
const CODE_SPAN = /(`+)(.+?)\1/g;
const COMMENT = /^(\/\/|#|\/?\*)/;
/** A `//` or `#` comment to the end of the line, at its start or after a space. */
const TRAILING_COMMENT = /(^|\s)(\/\/|#)(\s.*)?$/;

/** A code line as the comparison sees it: comments, and the space around the code, dropped. */
function code(line: string): string {
  const trimmed = line.trim();
  return COMMENT.test(trimmed) ? '' : trimmed.replace(TRAILING_COMMENT, '').trim();
}
const HEADING = /^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$/;

/** Headings and fenced code blocks of a Markdown page (ATX headings, backtick and tilde fences). */
export function outline(markdown: string): Outline {
  const lines = markdown.split(/\r?\n/);
  const result: Outline = { preambleFences: 0, headings: [], prose: [] };
  let open: string | undefined;
  let body: string[] = [];
  lines.forEach((line, index) => {
    const fence = FENCE.exec(line);
    const last = result.headings.at(-1);
    if (open !== undefined) {
      // A closing fence uses the opening character, at least as many times, and nothing else.
      if (fence && fence[1]![0] === open[0] && fence[1]!.length >= open.length) {
        if (line.trim() === fence[1]) open = undefined;
      }
      if (open === undefined) {
        last?.blocks.push(body.join('\n'));
      } else if (code(line) !== '') {
        body.push(code(line));
        last?.marks.add(code(line));
      }
      result.prose.push('');
      return;
    }
    if (fence) {
      open = fence[1]!;
      body = [];
      if (last) last.fences += 1;
      else result.preambleFences += 1;
      result.prose.push('');
      return;
    }
    result.prose.push(line);
    const heading = HEADING.exec(line);
    if (heading) {
      result.headings.push({
        level: heading[1]!.length,
        text: (heading[2] ?? '').trim(),
        line: index + 1,
        fences: 0,
        blocks: [],
        marks: new Set(),
      });
    }
    const section = result.headings.at(-1);
    for (const span of line.matchAll(CODE_SPAN)) section?.marks.add(span[2]!.trim());
  });
  return result;
}

function describe(page: string, heading: Heading): string {
  const blocks = `${heading.fences} code block${heading.fences === 1 ? '' : 's'}`;
  return `"${'#'.repeat(heading.level)} ${heading.text}" (${page}:${heading.line}, ${blocks})`;
}

function sameShape(en: Heading | undefined, ja: Heading | undefined): boolean {
  return en !== undefined && ja !== undefined && en.level === ja.level && en.fences === ja.fences;
}

/** How alike two sections are: 0 when they cannot correspond (other levels), else above 1. */
function likeness(en: Heading, ja: Heading): number {
  if (en.level !== ja.level) return 0;
  let shared = 0;
  for (const mark of en.marks) if (ja.marks.has(mark)) shared += 1;
  const union = en.marks.size + ja.marks.size - shared;
  return 1 + (union === 0 ? 0 : shared / union) + (en.fences === ja.fences ? 0.25 : 0);
}

type Step = { en?: Heading; ja?: Heading };

/**
 * Pairs the English sections with the Japanese ones in order, favouring pairs that share code
 * (an alignment over the two heading lists, as a diff does over lines), so that an English section
 * added since the translation shows up as unpaired instead of shifting every later comparison.
 */
function align(english: Heading[], japanese: Heading[]): Step[] {
  const n = english.length;
  const m = japanese.length;
  const best = Array.from({ length: n + 1 }, () => new Array<number>(m + 1).fill(0));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      const pair = likeness(english[i]!, japanese[j]!);
      const paired = pair > 0 ? pair + best[i + 1]![j + 1]! : 0;
      best[i]![j] = Math.max(paired, best[i + 1]![j]!, best[i]![j + 1]!);
    }
  }
  const steps: Step[] = [];
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    const en = english[i];
    const ja = japanese[j];
    if (en && ja) {
      const pair = likeness(en, ja);
      if (pair > 0 && best[i]![j] === pair + best[i + 1]![j + 1]!) {
        steps.push({ en, ja });
        i += 1;
        j += 1;
      } else if (best[i]![j] === best[i + 1]![j]) {
        steps.push({ en });
        i += 1;
      } else {
        steps.push({ ja });
        j += 1;
      }
    } else if (en) {
      steps.push({ en });
      i += 1;
    } else {
      steps.push({ ja });
      j += 1;
    }
  }
  return steps;
}

/** The code blocks of two corresponding sections whose code (comments aside) differs. */
function changedBlocks(pair: DocPair, en: Heading, ja: Heading): string[] {
  const items: string[] = [];
  en.blocks.forEach((block, k) => {
    const other = ja.blocks[k] ?? '';
    if (block === other) return;
    const enLines = block.split('\n');
    const jaLines = other.split('\n');
    const at = enLines.findIndex((line, i) => line !== jaLines[i]);
    const line = at === -1 ? jaLines[enLines.length] : enLines[at];
    items.push(
      `code block ${k + 1} of English ${describe(pair.english, en)} is not the one under ` +
        `Japanese ${describe(pair.japanese, ja)}: first difference at code "${line ?? ''}"`,
    );
  });
  return items;
}

/**
 * Compares the Japanese outline with the English one: the heading levels in order, and the code
 * blocks under each heading. Returns an empty list when they match, else one message listing what
 * the Japanese page lacks (each English section by its heading text and line, and the Japanese
 * heading it belongs after), what it has that English does not, and where code blocks differ.
 */
export function compareOutlines(pair: DocPair, english: Outline, japanese: Outline): string[] {
  const problems: string[] = [];
  if (english.preambleFences !== japanese.preambleFences) {
    problems.push(
      `${pair.japanese}: ${japanese.preambleFences} code block(s) before the first heading, ` +
        `${pair.english} has ${english.preambleFences}`,
    );
  }
  const en = english.headings;
  const ja = japanese.headings;
  const inStep = en.length === ja.length && en.every((heading, i) => sameShape(heading, ja[i]));
  const steps: Step[] = inStep
    ? en.map((heading, i) => ({ en: heading, ja: ja[i] }))
    : align(en, ja);
  const items: string[] = [];
  let previous: Heading | undefined;
  for (const step of steps) {
    if (step.en && step.ja) {
      if (step.en.fences !== step.ja.fences) {
        items.push(
          `code blocks differ: English ${describe(pair.english, step.en)}, Japanese ` +
            describe(pair.japanese, step.ja),
        );
      } else {
        items.push(...changedBlocks(pair, step.en, step.ja));
      }
      previous = step.ja;
    } else if (step.en) {
      const where = previous
        ? `after ${describe(pair.japanese, previous)}`
        : 'before the first Japanese heading';
      items.push(`missing in Japanese: ${describe(pair.english, step.en)}; translate it ${where}`);
    } else if (step.ja) {
      items.push(`not in English: ${describe(pair.japanese, step.ja)}`);
      previous = step.ja;
    }
  }
  if (items.length === 0) return problems;
  problems.push(
    `${pair.japanese} does not follow ${pair.english} (English: ${en.length} headings, ` +
      `Japanese: ${ja.length}):\n${items.map((item) => `  - ${item}`).join('\n')}`,
  );
  return problems;
}

/**
 * The anchor GitHub gives a heading: lower case, punctuation and symbols dropped (letters of any
 * script, digits, marks, `-` and `_` stay), spaces turned into hyphens, `-1`, `-2`… for repeats.
 */
export function anchors(headings: Heading[]): Set<string> {
  const seen = new Map<string, number>();
  const result = new Set<string>();
  for (const heading of headings) {
    const text = heading.text.replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1');
    const base = text
      .toLowerCase()
      .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '')
      .replace(/ /g, '-');
    const repeats = seen.get(base) ?? 0;
    seen.set(base, repeats + 1);
    result.add(repeats === 0 ? base : `${base}-${repeats}`);
  }
  return result;
}

/** Link targets in the prose: inline links, images, reference definitions and autolinks. */
export function linkTargets(prose: string[]): { target: string; line: number }[] {
  const found: { target: string; line: number }[] = [];
  prose.forEach((raw, index) => {
    const line = raw.replace(/(`+)[^`]*?\1/g, '');
    for (const match of line.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) {
      found.push({ target: match[1]!, line: index + 1 });
    }
    const definition = /^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)/.exec(line);
    if (definition) found.push({ target: definition[1]!, line: index + 1 });
    for (const match of line.matchAll(/<([a-z][a-z0-9+.-]*:[^\s>]+)>/gi)) {
      found.push({ target: match[1]!, line: index + 1 });
    }
  });
  return found;
}

/** Relative links of a page that point at no file, or at no heading of the file they name. */
export function brokenLinks(root: string, page: string, pageOutline: Outline): string[] {
  const problems: string[] = [];
  for (const { target, line } of linkTargets(pageOutline.prose)) {
    if (/^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith('//')) continue;
    const [path = '', fragment] = target.split('#', 2);
    const file = path === '' ? join(root, page) : resolve(root, dirname(page), decodeURI(path));
    const where = `${page}:${line}: link "${target}"`;
    if (relative(root, file).startsWith('..')) {
      problems.push(`${where} leaves the repository`);
      continue;
    }
    if (!existsSync(file)) {
      problems.push(`${where} points at ${relative(root, file)}, which does not exist`);
      continue;
    }
    if (fragment === undefined || !file.endsWith('.md') || statSync(file).isDirectory()) continue;
    const targetOutline = path === '' ? pageOutline : outline(readFileSync(file, 'utf8'));
    if (!anchors(targetOutline.headings).has(decodeURIComponent(fragment))) {
      problems.push(`${where}: ${relative(root, file)} has no heading with anchor #${fragment}`);
    }
  }
  return problems;
}

/**
 * Whether the lines before the page's first section heading hold a line starting with `label`
 * (such as `日本語:`) whose link resolves to `other`.
 */
function linksAtTop(root: string, page: string, text: Outline, label: string, other: string) {
  const firstSection = text.headings.find((h) => h.level > 1)?.line ?? text.prose.length;
  const top = text.prose.slice(0, firstSection - 1);
  return top.some(
    (line) =>
      line.startsWith(label) &&
      linkTargets([line]).some(
        ({ target }) =>
          resolve(root, dirname(page), target.split('#')[0]!) === resolve(root, other),
      ),
  );
}

/** Every problem of one English–Japanese pair; empty when the translation is in step. */
export function checkPair(root: string, pair: DocPair): string[] {
  const missing = [pair.english, pair.japanese].filter((page) => !existsSync(join(root, page)));
  if (missing.length > 0) return missing.map((page) => `${page} does not exist`);
  const english = outline(readFileSync(join(root, pair.english), 'utf8'));
  const japanese = outline(readFileSync(join(root, pair.japanese), 'utf8'));
  const problems = compareOutlines(pair, english, japanese);
  const toJapanese = relative(dirname(join(root, pair.english)), join(root, pair.japanese));
  const toEnglish = relative(dirname(join(root, pair.japanese)), join(root, pair.english));
  if (!linksAtTop(root, pair.english, english, '日本語:', pair.japanese)) {
    problems.push(
      `${pair.english}: no link to the Japanese page at the top (a line "日本語: [${pair.japanese}](${toJapanese})" before the first section)`,
    );
  }
  if (!linksAtTop(root, pair.japanese, japanese, 'English:', pair.english)) {
    problems.push(
      `${pair.japanese}: no link to the English page at the top (a line "English: [${toEnglish}](${toEnglish})" before the first section)`,
    );
  }
  problems.push(...brokenLinks(root, pair.japanese, japanese));
  return problems;
}

/** The pages that must have a Japanese translation. */
export const TRANSLATED: readonly DocPair[] = [
  { english: 'README.md', japanese: 'README.ja.md' },
  ...['express', 'next', 'server', 'security'].map((name) => ({
    english: `docs/${name}.md`,
    japanese: `docs/ja/${name}.md`,
  })),
];

/**
 * The required pairs, plus every other `docs/ja/X.md` with its `docs/X.md`. A pair whose English
 * page is not in the repository (yet) comes back in `unpaired` instead of being checked.
 */
export function findPairs(root: string): { pairs: DocPair[]; unpaired: DocPair[] } {
  const pairs: DocPair[] = [...TRANSLATED];
  const folder = join(root, 'docs/ja');
  const extra = existsSync(folder) ? readdirSync(folder).filter((f) => f.endsWith('.md')) : [];
  for (const file of extra.sort()) {
    const pair = { english: `docs/${file}`, japanese: `docs/ja/${file}` };
    if (!pairs.some((p) => p.japanese === pair.japanese)) pairs.push(pair);
  }
  const required = new Set<string>(TRANSLATED.map((p) => p.japanese));
  return {
    pairs: pairs.filter((p) => required.has(p.japanese) || existsSync(join(root, p.english))),
    unpaired: pairs.filter((p) => !required.has(p.japanese) && !existsSync(join(root, p.english))),
  };
}
