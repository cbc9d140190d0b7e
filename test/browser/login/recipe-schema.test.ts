import { describe, expect, it } from 'vitest';
import { compileUrlPattern, loginRecipeSchema, pageCheckSchema, parseTemplate, templateIsSecret } from '../../../src/core/index.js';

describe('login recipe data (core/login-recipe)', () => {
  it('parses value templates into literal text and placeholders', () => {
    expect(parseTemplate('{{username}}@corp')).toEqual([{ kind: 'field', name: 'username' }, { kind: 'literal', text: '@corp' }]);
    expect(parseTemplate('{{ password }}{{totp}}')).toEqual([{ kind: 'field', name: 'password' }, { kind: 'totp' }]);
    expect(parseTemplate('{{field:branchCode}}')).toEqual([{ kind: 'field', name: 'branchCode' }]);
    expect(templateIsSecret('plain text')).toBe(false);
    expect(templateIsSecret('x{{totp}}')).toBe(true);
    expect(() => parseTemplate('{{secret}}')).toThrow(/unknown placeholder/);
    expect(() => parseTemplate('{{field:9bad}}')).toThrow(/unknown placeholder/);
    expect(() => parseTemplate('{{username}')).toThrow(/unbalanced/);
  });

  it('matches URL globs and /regex/ patterns', () => {
    expect(compileUrlPattern('**/accounts')('https://bank.example/app/accounts')).toBe(true);
    expect(compileUrlPattern('https://bank.example/*')('https://bank.example/a/b')).toBe(false);
    expect(compileUrlPattern('https://bank.example/acc?unts')('https://bank.example/accounts')).toBe(true);
    expect(compileUrlPattern('/\\/home(\\?|$)/i')('https://bank.example/HOME?x=1')).toBe(true);
    expect(() => compileUrlPattern('/(/')).toThrow();
  });

  it('accepts the recipe shapes of the contract and refuses the rest with a clear issue', () => {
    const recipe = {
      injection: 'fill',
      steps: [
        { goto: '/login' },
        { ifVisible: 'text=Accept cookies', steps: [{ click: 'text=Accept cookies' }] },
        { frame: '#login', steps: [{ fill: '#user', value: '{{username}}' }, { press: '#pass', key: 'Enter', optional: true }] },
        { waitFor: { url: '**/home', timeoutMs: 5000 } },
      ],
    };
    expect(loginRecipeSchema.parse(recipe)).toEqual(recipe);
    const refused = [
      { steps: [] },
      { steps: [{ fill: '#x', value: '{{nope}}' }] },
      { steps: [{ goto: 'javascript:alert(1)' }] },
      { steps: [{ waitFor: {} }] },
      { steps: [{ click: '#x', extra: 1 }] },
      { steps: [{ click: '#x' }], injection: 'type' },
      { steps: [{ frame: 'a', steps: [{ frame: 'b', steps: [{ frame: 'c', steps: [{ frame: 'd', steps: [{ click: 'x' }] }] }] }] }] },
    ];
    for (const bad of refused) expect(loginRecipeSchema.safeParse(bad).success, JSON.stringify(bad)).toBe(false);
    expect(pageCheckSchema.safeParse({}).success).toBe(false);
    expect(pageCheckSchema.safeParse({ url: '/(/' }).success).toBe(false);
    expect(pageCheckSchema.parse({ selector: '#balance', text: 'Accounts' })).toEqual({ selector: '#balance', text: 'Accounts' });
  });
});
