/** One answer of the admin API: its status and parsed JSON body. */
export interface AdminAnswer {
  readonly status: number;
  readonly body: unknown;
}

/**
 * Calls the admin API of a running node; a network failure throws with its cause (ECONNREFUSED, timeout), an HTTP
 * error status is returned for the caller to explain.
 *
 * @example const { status, body } = await callAdmin('http://127.0.0.1:8081', token, 'GET', '/v1/nodes');
 */
export async function callAdmin(
  admin: string,
  token: string | undefined,
  method: string,
  path: string,
  body?: { readonly text: string; readonly contentType: string },
): Promise<AdminAnswer> {
  const headers: Record<string, string> = {};
  if (token !== undefined) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = body.contentType;
  let res: Response;
  try {
    res = await fetch(new URL(path, admin), {
      method,
      headers,
      ...(body === undefined ? {} : { body: body.text }),
      signal: AbortSignal.timeout(10_000),
    });
  } catch (err) {
    const cause = err instanceof Error && err.cause instanceof Error ? err.cause.message : String(err);
    throw new Error(`cannot reach the admin API at ${admin}: ${cause}`, { cause: err });
  }
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // Not JSON: kept as text for the error message.
  }
  return { status: res.status, body: parsed };
}

/** A problem+json answer as one line: `422 invalid_config: the configuration was not stored`. */
export function describeProblem(answer: AdminAnswer): string {
  const problem = answer.body as { code?: string; detail?: string; title?: string } | string;
  if (typeof problem === 'string') return `${answer.status} ${problem}`;
  return `${answer.status} ${problem.code ?? ''}: ${problem.detail ?? problem.title ?? ''}`;
}
