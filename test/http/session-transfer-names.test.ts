import { describe, expect, it } from 'vitest';
import { safeFileName } from '../../src/browser/index.js';
import { attachmentHeader } from '../../src/http/routes/session-transfers.js';

// File names from a portal (downloads) or from a client (uploads): what the other side may see.

describe('file names between the owner and the portal', () => {
  it('keeps the last path segment only, without control or format characters, and never an empty, . or .. name', () => {
    expect(safeFileName('../../etc/passwd')).toBe('passwd');
    expect(safeFileName('C:\\Users\\alice\\report.pdf')).toBe('report.pdf');
    expect(safeFileName('line\r\nbreak\u0000.txt')).toBe('linebreak.txt');
    expect(safeFileName('evil\u202etxt.exe')).toBe('eviltxt.exe');
    for (const name of ['', '.', '..', 'dir/', '\u0007']) expect(safeFileName(name)).toBe('file');
    expect([...safeFileName('é'.repeat(500))]).toHaveLength(200);
  });

  it('names a download in Content-Disposition with an ASCII fallback and the exact UTF-8 name (RFC 6266 / 5987)', () => {
    expect(attachmentHeader('statement.csv')).toBe(`attachment; filename="statement.csv"; filename*=UTF-8''statement.csv`);
    expect(attachmentHeader('Extrato de março (1).pdf')).toBe(`attachment; filename="Extrato de mar_o (1).pdf"; filename*=UTF-8''Extrato%20de%20mar%C3%A7o%20%281%29.pdf`);
    // A name that tries to close the quoted string or add a parameter stays inside it.
    expect(attachmentHeader('a"; filename="evil.exe')).toBe(`attachment; filename="a_; filename=_evil.exe"; filename*=UTF-8''a%22%3B%20filename%3D%22evil.exe`);
    expect(attachmentHeader('100%\\x.txt')).toBe(`attachment; filename="100__x.txt"; filename*=UTF-8''100%25%5Cx.txt`);
  });
});
