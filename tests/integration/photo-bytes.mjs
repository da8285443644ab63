// Small JPEG and PNG files built byte by byte, with the metadata a phone
// puts in (EXIF GPS and camera, XMP, comments, PNG text chunks), for the
// photo tests.  Structurally valid, as src/photo/photo.c checks them.
import { crc32 } from 'node:zlib';

const u16 = (n) => [n >> 8, n & 255];
const seg = (m, payload) => Buffer.concat([
  Buffer.from([0xff, m, ...u16(payload.length + 2)]), Buffer.from(payload)]);

// An EXIF APP1 with a GPS IFD (lat 31.2304 N, lon 121.4737 E) and the
// camera's make and model.
export function exifGps() {
  const tiff = Buffer.from('MM\0*\0\0\0\x08', 'latin1');
  const text = Buffer.from('GPSLatitude=31.2304N GPSLongitude=121.4737E ' +
    'Make=Canon Model=EOS R5', 'latin1');
  const ifd = Buffer.from([0, 1, 0x88, 0x25, 0, 4, 0, 0, 0, 1, 0, 0, 0, 26,
    0, 0, 0, 0]);
  return seg(0xe1, Buffer.concat([Buffer.from('Exif\0\0', 'latin1'), tiff,
    ifd, text]));
}

// A baseline JPEG (8x8, one component); meta: with EXIF GPS, XMP and a
// comment; pad: bytes of entropy-coded data (to make it large).
export function jpeg({ meta = false, pad = 8 } = {}) {
  const parts = [Buffer.from([0xff, 0xd8]),
    seg(0xe0, Buffer.from('JFIF\0\x01\x01\0\0\x01\0\x01\0\0', 'latin1'))];
  if (meta) {
    parts.push(exifGps());
    parts.push(seg(0xe1, Buffer.from('http://ns.adobe.com/xap/1.0/\0' +
      '<x:xmpmeta><exif:GPSLatitude>31.2304</exif:GPSLatitude>', 'latin1')));
    parts.push(seg(0xfe, Buffer.from('taken by 王阿姨')));
  }
  parts.push(seg(0xdb, Buffer.alloc(65)));
  parts.push(seg(0xc0, Buffer.from([8, 0, 8, 0, 8, 1, 1, 0x11, 0])));
  parts.push(seg(0xc4, Buffer.from([0, 1, ...Array(15).fill(0), 0])));
  parts.push(seg(0xda, Buffer.from([1, 1, 0, 0, 63, 0])));
  parts.push(Buffer.alloc(pad, 0x2a));
  parts.push(Buffer.from([0xff, 0xd9]));
  return Buffer.concat(parts);
}

function chunk(type, data) {
  const td = Buffer.concat([Buffer.from(type, 'latin1'), Buffer.from(data)]);
  const len = Buffer.alloc(4), crc = Buffer.alloc(4);
  len.writeUInt32BE(td.length - 4);
  crc.writeUInt32BE(crc32(td) >>> 0);
  return Buffer.concat([len, td, crc]);
}

// A 1x1 grey PNG; meta: with tEXt (GPS), eXIf and tIME chunks.
export function png({ meta = false } = {}) {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(1, 0);
  ihdr.writeUInt32BE(1, 4);
  ihdr[8] = 8;
  const parts = [Buffer.from('\x89PNG\r\n\x1a\n', 'latin1'),
    chunk('IHDR', ihdr), chunk('gAMA', [0, 0, 0xb1, 0x8f])];
  if (meta) {
    parts.push(chunk('tEXt', Buffer.from('Comment\0GPS 31.2304 121.4737',
      'latin1')));
    parts.push(chunk('eXIf', Buffer.from('MM\0*Canon', 'latin1')));
    parts.push(chunk('tIME', [0x07, 0xea, 12, 2, 8, 0, 0]));
  }
  parts.push(chunk('IDAT', [0x78, 0x9c, 0x63, 0x60, 0, 0, 0, 2, 0, 1]));
  parts.push(chunk('IEND', []));
  return Buffer.concat(parts);
}
