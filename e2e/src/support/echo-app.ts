// The e2e test app on the local node (e2e/images/echo: answers every request with its pod's name,
// port 8080), as Kubernetes objects for the real-pod tests.

/** The image e2e/images/build.sh imports into the node (never pulled). */
export const ECHO_IMAGE = 'palisade.local/echo:1';

/** The echo container: POD_NAME from the downward API, Ready once it answers on 8080. */
export function echoContainer(): Record<string, unknown> {
  return {
    name: 'echo',
    image: ECHO_IMAGE,
    imagePullPolicy: 'Never',
    env: [{ name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }],
    ports: [{ name: 'http', containerPort: 8080 }],
    readinessProbe: { httpGet: { path: '/', port: 8080 }, periodSeconds: 1 },
  };
}

/** A Deployment `echo` of `replicas` echo pods labelled `labels` (its selector), plus `annotations`. */
export function echoDeployment(
  namespace: string,
  replicas: number,
  labels: Record<string, string>,
  extra: { labels?: Record<string, string>; annotations?: Record<string, string> } = {},
): Record<string, unknown> {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'echo', namespace },
    spec: {
      replicas,
      selector: { matchLabels: labels },
      template: {
        metadata: {
          labels: { ...labels, ...extra.labels },
          ...(extra.annotations === undefined ? {} : { annotations: extra.annotations }),
        },
        spec: { terminationGracePeriodSeconds: 2, containers: [echoContainer()] },
      },
    },
  };
}
