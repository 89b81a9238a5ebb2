/** gRPC over HTTP/2, gRPC-Web with binary frames, gRPC-Web with base64 text frames. */
export type GrpcFraming = 'grpc' | 'grpc-web' | 'grpc-web-text';

/**
 * The gRPC framing a content type announces (`application/grpc`, `application/grpc+proto`,
 * `application/grpc-web-text`…), or undefined for any other request.
 *
 * @example grpcFramingOf('application/grpc-web+proto') // 'grpc-web'
 */
export function grpcFramingOf(contentType: string | undefined): GrpcFraming | undefined {
  if (contentType === undefined || !contentType.startsWith('application/grpc')) return undefined;
  const rest = contentType.charCodeAt(16);
  // `application/grpc` alone, or followed by `+codec` or `;params`.
  if (Number.isNaN(rest) || rest === 0x2b || rest === 0x3b) return 'grpc';
  if (!contentType.startsWith('-web', 16)) return undefined;
  return contentType.startsWith('-text', 20) ? 'grpc-web-text' : 'grpc-web';
}
