// Governed browser sessions: the lifecycle state machine that orchestrates access, vault, browser and audit.
export { createBrowserSessions } from './browser-sessions.js';
export { ENDED_MESSAGES } from './agent-handle.js';
export { createStoredSessionsEnder } from './end-user-sessions.js';
export { createTrialLogin, type FailedStep, type TrialInput, type TrialLogin, type TrialLoginDeps, type TrialResult } from './trial-login.js';
export { END_REASONS, SESSION_STATES, type AgentHandle, type AttachedSession, type BrowserSessions, type BrowserSessionsDeps, type EndReason, type SessionRecord, type SessionState, type SessionsLogger } from './types.js';
