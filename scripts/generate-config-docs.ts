/**
 * Writes docs/configuration.md, docs/portico.schema.json and docs/errors.md from ConfigSchema and
 * the error catalog, and the rules section of docs/contracts.md from the contract diff's rule table. `--check` writes nothing and exits 1 when a file is stale (CI).
 *
 * Usage: node scripts/generate-config-docs.ts [--check]
 */
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { format, getFileInfo, resolveConfig } from 'prettier';
import { ConfigSchema } from '../src/config/schema.ts';
import { describeSchema, patternPhrases, type SchemaLike } from '../src/config/schema-issues.ts';
import { unsupportedFeatures } from '../src/config/unsupported.ts';
import { diffRules, type RuleFamily } from '../src/contracts/diff/rules.ts';
import { errorCatalog, type ErrorCode } from '../src/errors/catalog.ts';
import { GrpcStatus, grpcStatusOfCode } from '../src/errors/grpc-status.ts';

interface DocSchema extends SchemaLike {
  default?: unknown;
  required?: string[];
  properties?: Record<string, DocSchema>;
  patternProperties?: Record<string, DocSchema>;
  items?: DocSchema;
  anyOf?: DocSchema[];
}

interface Section {
  title: string;
  anchor: string;
  schema: DocSchema;
}

const root = fileURLToPath(new URL('..', import.meta.url));

/** Plain JSON Schema: TypeBox's symbol keys disappear in the JSON round trip. */
export function plainConfigSchema(): DocSchema {
  return JSON.parse(JSON.stringify(ConfigSchema)) as DocSchema;
}

/** The JSON Schema for editors (YAML language servers, VS Code). */
export function renderJsonSchema(): string {
  const schema = {
    $schema: 'http://json-schema.org/draft-07/schema#',
    title: 'Portico configuration',
    ...withoutDefaultedRequired(plainConfigSchema()),
  };
  return `${JSON.stringify(schema, null, 2)}\n`;
}

/**
 * TypeBox marks keys with defaults as required (they always exist after loading), but a file may
 * omit them, so editors must not ask for them.
 */
function withoutDefaultedRequired(node: unknown): DocSchema {
  if (Array.isArray(node)) return node.map(withoutDefaultedRequired) as unknown as DocSchema;
  if (node === null || typeof node !== 'object') return node as DocSchema;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(node)) out[key] = withoutDefaultedRequired(value);
  const schema = out as DocSchema;
  if (schema.required !== undefined && schema.properties !== undefined) {
    const properties = schema.properties;
    schema.required = schema.required.filter((key) => properties[key]?.default === undefined);
    if (schema.required.length === 0) delete schema.required;
  }
  return schema;
}

/** docs/configuration.md: notes, then one section per object with a table of its keys. */
export function renderConfigurationDoc(): string {
  const sections: Section[] = [];
  const seen = new Map<string, Section>();
  const sectionFor = (title: string, schema: DocSchema): Section => {
    const id = JSON.stringify(schema);
    const known = seen.get(id);
    if (known !== undefined) return known;
    const section = { title, anchor: anchorOf(title), schema };
    seen.set(id, section);
    sections.push(section);
    return section;
  };
  sectionFor('top level', plainConfigSchema());

  const out: string[] = [];
  for (let i = 0; i < sections.length; i++) {
    const section = sections[i];
    if (section === undefined) continue;
    out.push(`<a id="${section.anchor}"></a>`, '', `## \`${section.title}\``, '');
    if (section.schema.description !== undefined) out.push(section.schema.description, '');
    out.push('| Key | Type | Default | Required | Description |', '| --- | --- | --- | --- | --- |');
    const required = new Set(section.schema.required ?? []);
    for (const [key, prop] of Object.entries(section.schema.properties ?? {})) {
      const childTitle = section.title === 'top level' ? key : `${section.title}.${key}`;
      const type = typeText(prop, childTitle, sectionFor);
      const dflt = prop.default === undefined ? '' : `\`${JSON.stringify(prop.default)}\``;
      const isRequired = required.has(key) && prop.default === undefined ? 'yes' : 'no';
      out.push(
        `| \`${key}\` | ${cell(type)} | ${cell(dflt)} | ${isRequired} | ${cell(prop.description ?? '')} |`,
      );
    }
    out.push('');
  }
  return `${header()}\n${out.join('\n')}`;
}

function typeText(
  schema: DocSchema,
  title: string,
  sectionFor: (title: string, schema: DocSchema) => Section,
): string {
  if (schema.anyOf !== undefined) {
    const objects = schema.anyOf.flatMap((b) => objectBranches(b));
    const links = [...new Set(objects.map((o) => link(sectionFor(`${title} (object form)`, o))))];
    return `${describeSchema(schema)}${links.length > 0 ? `; object form: ${links.join(', ')}` : ''}`;
  }
  if (schema.type === 'object' && schema.properties !== undefined)
    return `object, see ${link(sectionFor(title, schema))}`;
  if (schema.type === 'object' && schema.patternProperties !== undefined) {
    const [[keyPattern, value] = ['', {}]] = Object.entries(schema.patternProperties);
    const keyText =
      keyPattern === '^(.*)$'
        ? 'any key'
        : `keys: ${patternPhrases[keyPattern] ?? `matching /${keyPattern}/`}`;
    const placeholder = keyPattern === '^[0-9]+$' ? '<major>' : '<name>';
    return `mapping (${keyText}) of ${typeText(value, `${title}.${placeholder}`, sectionFor)}`;
  }
  if (schema.type === 'array' && schema.items !== undefined) {
    const items = schema.items;
    if (items.type === 'object' && items.properties !== undefined) {
      return `list of objects, see ${link(sectionFor(`${title}[]`, items))}`;
    }
    if (items.anyOf !== undefined) return `list, each ${typeText(items, `${title}[]`, sectionFor)}`;
    return describeSchema(schema);
  }
  return describeSchema(schema);
}

function objectBranches(schema: DocSchema): DocSchema[] {
  if (schema.anyOf !== undefined) return schema.anyOf.flatMap(objectBranches);
  if (schema.type === 'array' && schema.items !== undefined) return objectBranches(schema.items);
  return schema.type === 'object' && schema.properties !== undefined ? [schema] : [];
}

function link(section: Section): string {
  return `[\`${section.title}\`](#${section.anchor})`;
}

function anchorOf(title: string): string {
  return title
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '');
}

function cell(text: string): string {
  return text.replaceAll('|', '\\|').replaceAll('\n', ' ');
}

function header(): string {
  const rows = unsupportedFeatures.map(
    (f) =>
      `| \`${f.path}\`${f.value === undefined ? '' : ` = \`${f.value}\``} | ${f.feature} | #${f.issue} |`,
  );
  return `# Configuration reference

<!-- Generated by scripts/generate-config-docs.ts from src/config/schema.ts; do not edit by hand. -->

Portico reads one YAML file (\`portico.yaml\` by default; JSON is accepted too, by the \`.json\` extension or
when the text starts with \`{\`). Check a file with \`portico validate -c FILE\`: every problem is printed with
\`file:line:column\`, its path in the document (such as \`routes[0].match.path\`) and what was expected.

## Notes

- **Durations** are strings: a number followed by \`ms\`, \`s\`, \`m\`, \`h\` or \`d\` (\`250ms\`, \`5s\`, \`1.5m\`, \`1h\`, \`1d\`).
- **Sizes** are strings: a whole number followed by \`b\`, \`kb\`, \`mb\` or \`gb\`. Multiples are binary:
  1kb = 1024 bytes, 1mb = 1024kb, 1gb = 1024mb.
- **Environment variables**: \`\${NAME}\` is replaced by the variable's value, \`\${NAME:-default}\` by the
  default when the variable is unset or empty. An unset variable without default is an error naming it.
  Write \`$\${\` for a literal \`\${\`. References are replaced inside parsed values (never in the raw text,
  nor in comments or keys), so a value with quotes, newlines, \`#\` or YAML syntax is taken literally and can
  never add a key. An unquoted reference is then read as a plain YAML value (\`workers: \${WORKERS}\` is a
  number); a quoted one stays a string.
- **Secrets from files**: \`\${file:/run/secrets/token}\` is the content of that file (relative paths are
  resolved from the configuration's folder), and when \`NAME\` is unset but \`NAME_FILE\` names a file,
  \`\${NAME}\` is that file's content (setting both is an error). One trailing newline is dropped. Values read
  from files are redacted from \`GET /v1/config\` and from every configuration error.
- **Unknown keys are errors**, so a misspelt key never goes unnoticed.
- **Defaults** listed below are applied when a key is absent. A key is required only when it has no default.
- **Load balancing**: \`consistent-hash\` without \`hashOn\` hashes on the client address (\`ip\`);
  \`hashOn\` with another balancer is an error.
- **Cross-field rules**: route and aggregate names are unique; \`route.service\` names a declared service;
  instance URLs have a host; \`listen\` and \`admin.listen\` are \`host:port\` (port 0 to 65535) and differ;
  an admin listener that is not on a loopback address requires \`admin.token\`; a version's \`sunset\` is not
  earlier than its \`deprecated\`; \`store.kind: redis\` requires \`store.url\`.

## Not supported yet

These keys are part of the schema, but the gateway does not implement them yet. A configuration that uses
one fails validation with \`... is not supported yet (planned: FEATURE, issue #N)\` rather than being ignored.

| Path | Feature | Issue |
| --- | --- | --- |
${rows.join('\n')}
`;
}

/** docs/errors.md: every code the gateway answers with, from src/errors/catalog.ts. */
export function renderErrorsDoc(): string {
  const grpcNames = new Map<number, string>(Object.entries(GrpcStatus).map(([name, value]) => [value, name]));
  const rows = Object.entries(errorCatalog).map(
    ([code, e]) =>
      `| \`${code}\` | ${e.status} | ${cell(e.title)} | ${e.retryable ? 'yes' : 'no'} | ${grpcNames.get(grpcStatusOfCode[code as ErrorCode]) ?? ''} |`,
  );
  return `# Error codes

<!-- Generated by scripts/generate-config-docs.ts from src/errors/catalog.ts; do not edit by hand. -->

Every error Portico itself answers with is an RFC 9457 \`application/problem+json\` document whose \`code\`
is one of these. Answers from upstream services pass through untouched. \`retryable\` says whether the same
request may succeed when tried again. On a gRPC or gRPC-Web call the same error is a gRPC answer instead: HTTP
200 with the \`gRPC\` status of the last column in \`grpc-status\`, the detail in \`grpc-message\` and the code in
\`portico-error\` (see [grpc.md](grpc.md)).

| Code | Status | Title | Retryable | gRPC |
| --- | --- | --- | --- | --- |
${rows.join('\n')}
`;
}

const rulesStart =
  '<!-- rules:start (generated by scripts/generate-config-docs.ts from src/contracts/diff/rules.ts) -->';
const rulesEnd = '<!-- rules:end -->';

/** docs/contracts.md with its rules section (between the markers) rewritten from the rule table. */
export function renderContractsDoc(current: string): string {
  const start = current.indexOf(rulesStart);
  const end = current.indexOf(rulesEnd);
  if (start < 0 || end < start)
    throw new Error('docs/contracts.md has lost its rules:start/rules:end markers');
  const families = new Map<RuleFamily, string[]>();
  for (const [id, rule] of Object.entries(diffRules)) {
    const rows = families.get(rule.family) ?? [];
    if (rows.length === 0) families.set(rule.family, rows);
    rows.push(`| \`${id}\` | ${rule.severity} | ${cell(rule.description)} | ${cell(rule.example)} |`);
  }
  const sections = [...families].map(
    ([family, rows]) =>
      `### ${family[0]?.toUpperCase()}${family.slice(1)}\n\n| Rule | Severity | Meaning | Example |\n| --- | --- | --- | --- |\n${rows.join('\n')}\n`,
  );
  return `${current.slice(0, start)}${rulesStart}\n\n${sections.join('\n')}\n${current.slice(end)}`;
}

/** Every generated file, formatted the way the repository's prettier settings format it. */
export async function generatedFiles(): Promise<Map<string, string>> {
  const contracts = await readFile(`${root}docs/contracts.md`, 'utf8');
  const raw = new Map([
    ['docs/configuration.md', renderConfigurationDoc()],
    ['docs/portico.schema.json', renderJsonSchema()],
    ['docs/errors.md', renderErrorsDoc()],
    ['docs/contracts.md', renderContractsDoc(contracts)],
  ]);
  const files = new Map<string, string>();
  for (const [path, text] of raw) {
    const filepath = `${root}${path}`;
    // configuration.md is prettier-ignored: padded tables with long cells would be unreadable as text.
    const { ignored } = await getFileInfo(filepath, { ignorePath: `${root}.prettierignore` });
    const options = (await resolveConfig(filepath)) ?? {};
    files.set(path, ignored ? text : await format(text, { ...options, filepath }));
  }
  return files;
}

async function main(): Promise<number> {
  const check = process.argv.includes('--check');
  const stale: string[] = [];
  for (const [path, text] of await generatedFiles()) {
    const current = await readFile(`${root}${path}`, 'utf8').catch(() => undefined);
    if (current === text) continue;
    stale.push(path);
    if (!check) await writeFile(`${root}${path}`, text);
  }
  if (check && stale.length > 0) {
    console.error(`stale generated docs: ${stale.join(', ')}; run npm run docs`);
    return 1;
  }
  if (!check) console.log(stale.length === 0 ? 'docs up to date' : `wrote ${stale.join(', ')}`);
  return 0;
}

if (import.meta.main) process.exitCode = await main();
