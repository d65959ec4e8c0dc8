/** The sidecar's admin/app API: health, metrics, config, and the mount point for `/v1/…`. */
export * from './admin-server.js';
export * from './checks.js';
export * from './errors.js';
export * from './health-checks.js';
export * from './probe-server.js';
