import { describe, expect, it } from 'vitest';
import { DEFAULT_SESSION_POLICY, parsePolicy } from '../../src/access/index.js';

// The asset policy's recording fields as the import file takes them (the admin API shares the schema).
const file = (policy: string) => `version: 1\nassets:\n  - id: bank\n    name: Bank\n    url: https://bank.example.com/\n    policy: ${policy}\n`;

describe('recording policy of an asset', () => {
  it('defaults to a required, masked recording kept 365 days', () => {
    expect(DEFAULT_SESSION_POLICY).toMatchObject({ recording: 'required', recordKeystrokes: 'masked', recordingRetentionDays: 365 });
  });

  it('is taken from the import file, and a bad value is named by its place, not echoed', () => {
    expect(parsePolicy(file('{ recording: best_effort, recordKeystrokes: plain, recordingRetentionDays: 30 }')).assets?.[0]?.policy).toEqual({
      recording: 'best_effort',
      recordKeystrokes: 'plain',
      recordingRetentionDays: 30,
    });
    for (const [policy, field] of [
      ['{ recording: sometimes }', 'assets.0.policy.recording'],
      ['{ recordKeystrokes: everything }', 'assets.0.policy.recordKeystrokes'],
      ['{ recordingRetentionDays: 0 }', 'assets.0.policy.recordingRetentionDays'],
      ['{ recordingRetentionDays: 36501 }', 'assets.0.policy.recordingRetentionDays'],
    ] as const) {
      let caught: unknown;
      try {
        parsePolicy(file(policy));
      } catch (error) {
        caught = error;
      }
      expect(caught).toMatchObject({ code: 'invalid_request', data: [expect.objectContaining({ field })] });
    }
  });
});
