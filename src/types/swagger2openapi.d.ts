/** The part of swagger2openapi (no published types) that Portico uses. */
declare module 'swagger2openapi' {
  interface ConvertOptions {
    /** Fix small errors of the source instead of refusing it. */
    patch?: boolean;
    /** Mark non-patchable errors with `x-s2o-warning` instead of throwing. */
    warnOnly?: boolean;
    /** Resolve external references (Portico never lets the converter fetch anything). */
    resolve?: boolean;
    resolveInternal?: boolean;
    /** Answer the converted document itself rather than the options object. */
    direct?: boolean;
  }
  export function convertObj(swagger: object, options: ConvertOptions): Promise<Record<string, unknown>>;
  const converter: { convertObj: typeof convertObj };
  export default converter;
}
