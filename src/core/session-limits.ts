/**
 * The longest a browser session may last (an asset's maxDurationMinutes, at most 7 days). Shared
 * because what outlives sessions (a crashed process's downloads folder) is judged by it.
 */
export const MAX_SESSION_DURATION_MINUTES = 7 * 24 * 60;
