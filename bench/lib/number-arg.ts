/**
 * A numeric `--name N` option of a standalone bench script (bench/h2, bench/grpc, bench/tls), or `fallback`
 * when the command line does not give it.
 *
 * @example const requests = numberArg('requests', 20_000);
 */
export function numberArg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? fallback : Number(process.argv[i + 1]);
}
