// A QR code as one SVG path (uqr): what the friends page draws the friend code with. Imported
// with import() only, so it is a chunk of its own (assets/qr-<hash>.js, uqr included) that the
// library page never loads.
import { encode } from 'uqr';

/** The QR code of `text`: its size in modules (a 2-module quiet zone included) and the path of its dark ones. */
export function qrPath(text: string): { size: number; d: string } {
  const qr = encode(text, { ecc: 'L', border: 2 });
  const parts: string[] = [];
  qr.data.forEach((row, y) => row.forEach((dark, x) => dark && parts.push(`M${x} ${y}h1v1h-1z`)));
  return { size: qr.size, d: parts.join('') };
}
