/** The metadata every watched object has (a structural subset of V1ObjectMeta). */
export interface ObjectMetaLike {
  name?: string;
  namespace?: string;
}

/** Anything with metadata. */
export interface ObjectLike {
  metadata?: ObjectMetaLike;
}

/** The work-queue key of an object: `namespace/name`, or `name` for cluster-scoped objects. */
export function objectKey(obj: ObjectLike): string {
  const name = obj.metadata?.name ?? '';
  const namespace = obj.metadata?.namespace;
  return namespace === undefined || namespace === '' ? name : `${namespace}/${name}`;
}

/** Splits a key made by `objectKey`. */
export function splitKey(key: string): { namespace: string; name: string } {
  const slash = key.indexOf('/');
  return slash === -1
    ? { namespace: '', name: key }
    : { namespace: key.slice(0, slash), name: key.slice(slash + 1) };
}
