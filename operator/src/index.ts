/**
 * @palisade/operator — turns Palisade resources into enforced sidecar config and status.
 * Pure cores (compiler, planners, queue, conditions) with thin adapters to the Kubernetes API.
 */
export * from './compiler/index.js';
export * from './conditions.js';
export * from './core/clock.js';
export * from './core/random.js';
export * from './informer/object-key.js';
export * from './informer/object-store.js';
export * from './informer/pod-info.js';
export * from './informer/resource-informer.js';
export * from './informer/slim-objects.js';
export * from './informer/kube-informers.js';
export * from './adapters/kube-api-client.js';
export * from './operator.js';
export * from './queue/index.js';
export * from './reconcilers/chaos-expectations.js';
export * from './reconcilers/chaos-guards.js';
export * from './reconcilers/chaos-observation.js';
export * from './reconcilers/chaos-observer.js';
export * from './reconcilers/chaos-planner.js';
export * from './reconcilers/chaos-reconciler.js';
export * from './reconcilers/chaos-schedule.js';
export * from './reconcilers/config-map.js';
export * from './reconcilers/configs-reconciler.js';
export * from './reconcilers/kube-api.js';
export * from './reconcilers/namespace-compiler.js';
export * from './reconcilers/owned-status.js';
export * from './reconcilers/policy-reconciler.js';
export * from './reconcilers/policy-status.js';
export * from './reconcilers/redis-health.js';
export * from './reconcilers/saga-instances.js';
export * from './reconcilers/saga-instances-observer.js';
export * from './reconcilers/sidecar-metrics.js';
export * from './reconcilers/sidecar-scrape.js';
export * from './reconcilers/condition-events.js';
export * from './adapters/kube-request.js';
export * from './adapters/kube-event-recorder.js';
export * from './adapters/redis-ping.js';
export * from './leader/lease-decision.js';
export * from './leader/leader-elector.js';
export * from './leader/lease-lock.js';
export * from './options.js';
export * from './server/health-server.js';
export * from './server/metrics.js';
export * from './webhook/inject-sidecar.js';
export * from './webhook/admission-review.js';
export * from './webhook/certificates.js';
export * from './webhook/certificate-manager.js';
export * from './webhook/webhook-server.js';
export {
  startOperator,
  runCli,
  loadKubeConfig,
  EXIT,
  type RunningOperator,
  type CliIo,
} from './main.js';
