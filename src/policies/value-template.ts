/** What a placeholder of a transform value may name, filled per request. */
export interface TemplateSource {
  readonly params: Readonly<Record<string, string>>;
  readonly consumer: string | undefined;
  readonly requestId: string;
  readonly clientIp: string;
}

/**
 * A header or query value with placeholders: `{param.NAME}` (a route parameter), `{consumer}` (the
 * authenticated consumer id, empty when anonymous), `{requestId}`, `{clientIp}`. `${ENV}` references are
 * resolved by the config loader before this sees the text. Parsed once; `render` joins the parts.
 */
export interface ValueTemplate {
  /** The value itself when it has no placeholder (rendering is then free). */
  readonly constant: string | undefined;
  render(source: TemplateSource): string;
}

const PLACEHOLDER = /\{(param\.[A-Za-z_][A-Za-z0-9_]*|consumer|requestId|clientIp)\}/g;
const ANY_PLACEHOLDER = /\{([^{}]*)\}/g;
const KNOWN_NAME = /^(param\.[A-Za-z_][A-Za-z0-9_]*|consumer|requestId|clientIp)$/;

type Part = string | ((source: TemplateSource) => string);

function partFor(name: string): Part {
  if (name === 'consumer') return (source) => source.consumer ?? '';
  if (name === 'requestId') return (source) => source.requestId;
  if (name === 'clientIp') return (source) => source.clientIp;
  const param = name.slice(6);
  return (source) => source.params[param] ?? '';
}

/** Names in braces that are not placeholders, for the config check (`{user}` is a typo, not text). */
export function unknownPlaceholders(text: string): string[] {
  const unknown: string[] = [];
  for (const match of text.matchAll(ANY_PLACEHOLDER)) {
    const inner = match[1] as string;
    if (!KNOWN_NAME.test(inner)) unknown.push(`{${inner}}`);
  }
  return unknown;
}

export function compileTemplate(text: string): ValueTemplate {
  const parts: Part[] = [];
  let last = 0;
  for (const match of text.matchAll(PLACEHOLDER)) {
    if (match.index > last) parts.push(text.slice(last, match.index));
    parts.push(partFor(match[1] as string));
    last = match.index + match[0].length;
  }
  if (parts.length === 0) return { constant: text, render: () => text };
  if (last < text.length) parts.push(text.slice(last));
  return {
    constant: undefined,
    render(source) {
      let out = '';
      for (let i = 0; i < parts.length; i++) {
        const part = parts[i] as Part;
        out += typeof part === 'string' ? part : part(source);
      }
      return out;
    },
  };
}
