import { describe, expect, it } from 'vitest';
import { parsePolicy, parsePolicyFile } from '../../src/access/import-policy.js';
import { importJumpServerAutofill, type AppError } from '../../src/core/index.js';

// An existing JumpServer deployment brings its web assets over through the import file: an asset entry may carry
// JumpServer's autofill as it is (`jumpServerAutofill`), and the import stores the converted login recipe.

const script = [
  { step: 1, command: 'type', target: 'id=username', value: '{USERNAME}' },
  { step: 2, command: 'type', target: 'id=password', value: '{SECRET}' },
  { step: 3, command: 'click', target: 'css=button[type=submit]', value: '' },
];

function file(asset: Record<string, unknown>): string {
  return JSON.stringify({ version: 1, assets: [{ id: 'bank-a', name: 'Bank A', url: 'https://bank-a.example.com/login', ...asset }] });
}

describe('jumpServerAutofill in the import file', () => {
  it('becomes the asset login recipe, the same one the converter gives', () => {
    const parsed = parsePolicy(file({ jumpServerAutofill: { autofill: 'script', script } }));
    const asset = parsed.assets![0]!;
    expect(asset.loginRecipe).toEqual(importJumpServerAutofill({ autofill: 'script', script }).recipe);
    expect(asset).not.toHaveProperty('jumpServerAutofill');
    // A bare script list is accepted too, and autofill off means the automatic recipe.
    expect(parsePolicy(file({ jumpServerAutofill: script })).assets![0]!.loginRecipe).toEqual(asset.loginRecipe);
    expect(parsePolicy(file({ jumpServerAutofill: { autofill: 'no' } })).assets![0]!.loginRecipe).toBeNull();
  });

  it('is refused next to a loginRecipe, or when it cannot be converted, naming the place and never a value', () => {
    const both = () => parsePolicy(file({ jumpServerAutofill: script, loginRecipe: { steps: [{ click: '#go' }] } }));
    expect(both).toThrowError(expect.objectContaining({ code: 'invalid_request' }) as Error);
    const secret = 'https://bank-a.example.com/?p=S3cr3t-Canary-{SECRET}';
    try {
      parsePolicy(file({ jumpServerAutofill: [{ step: 1, command: 'open', target: '', value: secret }] }));
      expect.unreachable();
    } catch (error) {
      const e = error as AppError;
      expect(e.code).toBe('invalid_request');
      const text = JSON.stringify({ message: e.publicMessage, data: e.data });
      expect(text).toContain('assets.0.jumpServerAutofill');
      expect(text).not.toContain('S3cr3t-Canary');
    }
  });

  it("gives the converter's warnings, naming the asset and the step, never a value", () => {
    const secret = 'S3cr3t-Canary-typed';
    const { file: parsed, warnings } = parsePolicyFile(
      file({
        jumpServerAutofill: [
          { step: 1, command: 'type', target: 'id=username', value: '{USERNAME}' },
          { step: 2, command: 'sleep', target: '2', value: '' },
          { step: 3, command: 'type', target: 'id=pin', value: secret },
          { step: 4, command: 'code', target: 'name=otp', value: '' },
          { step: 5, command: 'type', target: `${secret}=x`, value: '{SECRET}' },
        ],
      }),
    );
    expect(parsed.assets![0]!.loginRecipe).not.toBeNull();
    expect(warnings).toEqual([
      'asset bank-a (assets.0.jumpServerAutofill) step 2 (sleep): dropped; recipe steps wait for their element (add a waitFor step if the portal needs one)',
      'asset bank-a (assets.0.jumpServerAutofill) step 3 (type): types fixed text; if it is a secret, move it to the vault entry and use {{field:NAME}}',
      "asset bank-a (assets.0.jumpServerAutofill) step 4 (code): JumpServer asks the person for a code; the recipe fills {{totp}} from the vault entry's totpSeed",
      'asset bank-a (assets.0.jumpServerAutofill) step 5 (type): unknown locator read as name=…, as JumpServer does',
    ]);
    expect(JSON.stringify(warnings)).not.toContain('S3cr3t');
    expect(parsePolicyFile(file({ loginRecipe: { steps: [{ click: '#go' }] } })).warnings).toEqual([]);
  });
});
