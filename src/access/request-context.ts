/** The request facts every audit event of access carries. */
export interface RequestContext {
  sourceIp?: string | undefined;
  userAgent?: string | undefined;
  requestId?: string | undefined;
}
