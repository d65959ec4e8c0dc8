export * from './controller.js';
export * from './errors.js';
export * from './rate-limiters.js';
export * from './work-queue.js';
