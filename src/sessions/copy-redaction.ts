import type { RequestContext } from '../access/index.js';
import { redactAgentText, type BrowserSession, type CopiedText } from '../browser/index.js';
import type { Principal } from '../identity/index.js';
import { loadSecrets, type AgentHandleDeps } from './agent-handle.js';
import type { LiveSession } from './live-sessions.js';

/**
 * The controller's view of a session's browser, whose copies out pass the session's redaction
 * first: a portal page that prints or copies the credential (a careless portal) must not hand it to
 * the operator's clipboard, as it must not hand it to an agent. The values are read from the vault
 * at the first copy (purpose `redact`, one read per session, shared with the agent tools); when
 * that read fails, the copy is dropped (fail closed) and `onDropped` is told.
 */
export function withRedactedCopies(
  deps: AgentHandleDeps,
  s: LiveSession,
  browser: BrowserSession,
  principal: Principal,
  context: RequestContext,
  onDropped: (error: unknown) => void,
): BrowserSession {
  const source = s.secrets.redaction;
  // Object.create keeps the handle's live getters (`closed`) and every other method as they are.
  return Object.create(browser, {
    onCopy: {
      value: (listener: (copied: CopiedText) => void) => {
        // Copies are redacted one after another, so the operator's clipboard gets them in their order.
        let order = Promise.resolve();
        return browser.onCopy((copied) => {
          order = order
            .then(() => loadSecrets(deps, s, principal, context))
            .then(
              () => listener({ ...copied, text: redactAgentText(source, copied.text) }),
              (error: unknown) => onDropped(error),
            );
        });
      },
    },
  }) as BrowserSession;
}
