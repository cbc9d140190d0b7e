// Shared state (in-process or Redis) and what is built on it; see DESIGN.md, "Defaults and real parts".
export type { SharedState, HitResult } from './shared-state.js';
export { createMemoryState, type MemoryStateOptions } from './memory-state.js';
export { createRedisState, type RedisStateOptions } from './redis-state.js';
export { createRateLimiter, type RateLimiter, type RateLimiterOptions, type RateRule } from './rate-limiter.js';
export { createNodeRegistry, isNodeUrl, type NodeRegistry, type NodeRegistryOptions } from './node-registry.js';
